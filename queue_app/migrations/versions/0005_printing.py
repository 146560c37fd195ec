"""kiosk printing: print spool, kiosk printer settings, service icons

Revision ID: 0005_printing
Revises: 0001
Create Date: 2026-11-30 16:36:35.911959
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import queue_app.models.base

revision = "0005_printing"
down_revision = "0004_display"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "print_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "ticket",
                "reprint",
                name="print_job_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "printing",
                "done",
                "failed",
                name="print_job_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", queue_app.models.base.TZDateTime(timezone=True), nullable=False
        ),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", queue_app.models.base.TZDateTime(timezone=True), nullable=False),
        sa.Column("printed_at", queue_app.models.base.TZDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["devices.id"],
            name=op.f("fk_print_jobs_agent_id_devices"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_print_jobs_device_id_devices"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_print_jobs_site_id_sites"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_print_jobs_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_jobs")),
    )
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_print_jobs_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(
            "ix_print_jobs_due",
            ["next_attempt_at"],
            unique=False,
            postgresql_where=sa.text("status IN ('pending', 'printing')"),
            sqlite_where=sa.text("status IN ('pending', 'printing')"),
        )
        batch_op.create_index(
            "ix_print_jobs_site_status", ["site_id", "status", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_print_jobs_ticket_id"), ["ticket_id"], unique=False)

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("printer", sa.String(length=255), nullable=True))
        # Existing devices get empty options.
        batch_op.add_column(
            sa.Column("printer_options", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.add_column(sa.Column("print_agent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("printer_status", sa.JSON(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_devices_print_agent_id_devices"),
            "devices",
            ["print_agent_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("icon", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("icon")

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_devices_print_agent_id_devices"), type_="foreignkey"
        )
        batch_op.drop_column("printer_status")
        batch_op.drop_column("print_agent_id")
        batch_op.drop_column("printer_options")
        batch_op.drop_column("printer")

    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_print_jobs_ticket_id"))
        batch_op.drop_index("ix_print_jobs_site_status")
        batch_op.drop_index(
            "ix_print_jobs_due",
            postgresql_where=sa.text("status IN ('pending', 'printing')"),
            sqlite_where=sa.text("status IN ('pending', 'printing')"),
        )
        batch_op.drop_index(batch_op.f("ix_print_jobs_agent_id"))

    op.drop_table("print_jobs")
