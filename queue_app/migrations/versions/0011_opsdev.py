"""operations: alerts (device offline, printer paper, SMS gateway, waits) and a site's
alert phone

Revision ID: 0011_opsdev
Revises: 0010_citizen
Create Date: 2026-12-08 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import queue_app.models.base

revision = "0011_opsdev"
down_revision = "0010_citizen"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Added in place: ``sites`` is never rebuilt on SQLite (a rebuild cascades).
    op.add_column("sites", sa.Column("alert_phone", sa.String(length=20), nullable=True))
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("opened_at", queue_app.models.base.TZDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", queue_app.models.base.TZDateTime(timezone=True), nullable=True),
        sa.Column("notified_at", queue_app.models.base.TZDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_alerts_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_alerts_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(op.f("ix_alerts_site_id"), "alerts", ["site_id"], unique=False)
    op.create_index(
        "uq_alerts_open",
        "alerts",
        ["site_id", "kind", "subject"],
        unique=True,
        postgresql_where=sa.text("closed_at IS NULL"),
        sqlite_where=sa.text("closed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_alerts_open", table_name="alerts")
    op.drop_index(op.f("ix_alerts_site_id"), table_name="alerts")
    op.drop_table("alerts")
    op.drop_column("sites", "alert_phone")
