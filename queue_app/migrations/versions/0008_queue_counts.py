# ruff: noqa: S608 - the SQL below interpolates constants of this file, never input
"""queue counts: the waiting tickets of each service, day and rank, kept by triggers

A newcomer's people ahead were counted over the whole queue on every issue
(thousands of index entries on a busy day); they are now read from these rows.
Triggers on ``tickets`` keep them whatever writes a ticket. On SQLite a later
migration that rebuilds ``tickets`` in batch mode drops its triggers: create
them again there (``create_triggers``).

Revision ID: 0008_queue_counts
Revises: 0007_quality
Create Date: 2026-12-01 00:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_queue_counts"
down_revision = "0007_quality"
branch_labels = None
depends_on = None

KEY = "service_id, service_day, priority_rank"
MATCHES_OLD = (
    "service_id = OLD.service_id AND service_day = OLD.service_day "
    "AND priority_rank = OLD.priority_rank"
)
# The columns whose change moves a ticket in or out of a queue.
MOVES = "status, service_id, service_day, priority_rank"


def _sqlite_enter(row: str) -> str:
    return (
        f"INSERT INTO queue_counts ({KEY}, waiting) "
        f"VALUES ({row}.service_id, {row}.service_day, {row}.priority_rank, 1) "
        f"ON CONFLICT ({KEY}) DO UPDATE SET waiting = waiting + 1;"
    )


SQLITE_LEAVE = f"UPDATE queue_counts SET waiting = waiting - 1 WHERE {MATCHES_OLD};"

SQLITE_TRIGGERS = {
    "tickets_queue_enter_on_insert": (
        "AFTER INSERT ON tickets WHEN NEW.status = 'waiting'",
        _sqlite_enter("NEW"),
    ),
    # Both fire for an update that keeps a waiting ticket where it was: -1 then +1.
    "tickets_queue_leave_on_update": (
        f"AFTER UPDATE OF {MOVES} ON tickets WHEN OLD.status = 'waiting'",
        SQLITE_LEAVE,
    ),
    "tickets_queue_enter_on_update": (
        f"AFTER UPDATE OF {MOVES} ON tickets WHEN NEW.status = 'waiting'",
        _sqlite_enter("NEW"),
    ),
    "tickets_queue_leave_on_delete": (
        "AFTER DELETE ON tickets WHEN OLD.status = 'waiting'",
        SQLITE_LEAVE,
    ),
}

POSTGRESQL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION tickets_follow_queue_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'waiting' THEN
        UPDATE queue_counts SET waiting = waiting - 1 WHERE {MATCHES_OLD};
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'waiting' THEN
        INSERT INTO queue_counts ({KEY}, waiting)
        VALUES (NEW.service_id, NEW.service_day, NEW.priority_rank, 1)
        ON CONFLICT ({KEY}) DO UPDATE SET waiting = queue_counts.waiting + 1;
    END IF;
    RETURN NULL;
END
$$
"""

POSTGRESQL_TRIGGER = (
    f"CREATE TRIGGER tickets_queue_counts AFTER INSERT OR UPDATE OF {MOVES} OR DELETE "
    "ON tickets FOR EACH ROW EXECUTE FUNCTION tickets_follow_queue_counts()"
)


def create_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_FUNCTION)
        op.execute(POSTGRESQL_TRIGGER)
        return
    for name, (when, body) in SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {when} BEGIN {body} END")


def drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS tickets_queue_counts ON tickets")
        op.execute("DROP FUNCTION IF EXISTS tickets_follow_queue_counts()")
        return
    for name in SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")


def upgrade() -> None:
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
    # The queues as they are now, then kept by the triggers.
    op.execute(
        f"INSERT INTO queue_counts ({KEY}, waiting) "
        f"SELECT {KEY}, count(*) FROM tickets WHERE status = 'waiting' GROUP BY {KEY}"
    )
    create_triggers()


def downgrade() -> None:
    drop_triggers()
    op.drop_table("queue_counts")
