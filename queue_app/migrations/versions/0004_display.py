"""waiting-room displays: message line, device service filter, voice clips, event version index

Revision ID: 0004_display
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import queue_app.models.base

revision = "0004_display"
down_revision = "0003_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("display_message", sa.String(length=280), nullable=True))
    op.create_index(
        op.f("ix_ticket_events_site_id_id"), "ticket_events", ["site_id", "id"], unique=False
    )
    op.create_table(
        "device_services",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_device_services_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_device_services_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", "service_id", name=op.f("pk_device_services")),
    )
    op.create_table(
        "voice_clips",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", queue_app.models.base.TZDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_voice_clips_site_id_sites"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"],
            ["users.id"],
            name=op.f("fk_voice_clips_uploaded_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_clips")),
        sa.UniqueConstraint(
            "site_id", "language", "key", name=op.f("uq_voice_clips_site_id_language_key")
        ),
    )


def downgrade() -> None:
    op.drop_table("voice_clips")
    op.drop_table("device_services")
    op.drop_index(op.f("ix_ticket_events_site_id_id"), table_name="ticket_events")
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("display_message")
