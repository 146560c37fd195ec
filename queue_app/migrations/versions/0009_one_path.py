"""one path: waiting counts read from the waiting index, arrival order kept by the number row,
print jobs rendered when a printer takes them

``queue_counts`` and its triggers go: every change of a waiting ticket wrote
the one row of its service and day, and held it until commit, so agents of one
service waited for each other. The people ahead are counted over the partial
index of waiting tickets instead. ``ticket_sequences.last_issued_at`` keeps the
arrival time of a service's last ticket: the next one's is never earlier, so
the tickets of a service are called in the order of their numbers. A print job
is written in the ticket's transaction without its bytes (``payload`` NULL,
with the ``position`` and ``wait_minutes`` the paper tells) and laid out when a
printer takes it.

Revision ID: 0009_one_path
Revises: 0008_queue_counts
Create Date: 2026-12-07 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import queue_app.models.base

revision = "0009_one_path"
down_revision = "0008_queue_counts"
branch_labels = None
depends_on = None

_TRIGGERS = (
    "tickets_queue_enter_on_insert",
    "tickets_queue_leave_on_update",
    "tickets_queue_enter_on_update",
    "tickets_queue_leave_on_delete",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS tickets_queue_counts ON tickets")
        op.execute("DROP FUNCTION IF EXISTS tickets_follow_queue_counts()")
    else:
        for name in _TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("queue_counts")

    op.add_column(
        "ticket_sequences",
        sa.Column("last_issued_at", queue_app.models.base.TZDateTime(timezone=True), nullable=True),
    )
    op.execute(
        "UPDATE ticket_sequences SET last_issued_at = ("
        "SELECT max(tickets.issued_at) FROM tickets "
        "WHERE tickets.issued_service_id = ticket_sequences.service_id "
        "AND tickets.service_day = ticket_sequences.service_day)"
    )

    op.add_column("print_jobs", sa.Column("position", sa.Integer(), nullable=True))
    op.add_column("print_jobs", sa.Column("wait_minutes", sa.Integer(), nullable=True))
    with op.batch_alter_table("print_jobs") as batch_op:
        batch_op.alter_column("payload", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    # Jobs still to lay out get an empty payload (staff reprint them).
    empty = "''::bytea" if op.get_bind().dialect.name == "postgresql" else "X''"
    op.execute(f"UPDATE print_jobs SET payload = {empty} WHERE payload IS NULL")  # noqa: S608
    with op.batch_alter_table("print_jobs") as batch_op:
        batch_op.alter_column("payload", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("wait_minutes")
        batch_op.drop_column("position")
    with op.batch_alter_table("ticket_sequences") as batch_op:
        batch_op.drop_column("last_issued_at")
    op.create_table(
        "queue_counts",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("service_day", sa.Date(), nullable=False),
        sa.Column("priority_rank", sa.SmallInteger(), nullable=False),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_queue_counts_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "service_id", "service_day", "priority_rank", name=op.f("pk_queue_counts")
        ),
    )
    op.execute(
        "INSERT INTO queue_counts (service_id, service_day, priority_rank, waiting) "
        "SELECT service_id, service_day, priority_rank, count(*) FROM tickets "
        "WHERE status = 'waiting' GROUP BY service_id, service_day, priority_rank"
    )
    # The triggers of revision 0008, as it wrote them.
    import importlib.util
    from pathlib import Path

    path = Path(__file__).with_name("0008_queue_counts.py")
    spec = importlib.util.spec_from_file_location("guichet_0008_queue_counts", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    revision_0008 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(revision_0008)
    revision_0008.create_triggers()
