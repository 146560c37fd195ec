"""idempotency keys: scoped per sender, kept until the end of the service day

Revision ID: 0002_idempotency
Revises: 0001
Create Date: 2026-11-30 17:00:00

Tickets no longer carry their Idempotency-Key: keys live in their own table,
per sender (device or user) and with an expiry. Keys given before the upgrade
are not carried over (they were valid for the rest of that day only).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import queue_app.models.base

revision = "0002_idempotency"
down_revision = "0002_api"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("resource_kind", sa.String(length=32), nullable=False),
        sa.Column("resource_ref", sa.String(length=64), nullable=True),
        sa.Column("created_at", queue_app.models.base.TZDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", queue_app.models.base.TZDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("scope", "key", name=op.f("uq_idempotency_keys_scope_key")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index("ix_idempotency_keys_expires_at", ["expires_at"], unique=False)
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_constraint("uq_tickets_site_id_idempotency_key", type_="unique")
        batch_op.drop_column("idempotency_key")


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=128), nullable=True))
        batch_op.create_unique_constraint(
            "uq_tickets_site_id_idempotency_key", ["site_id", "idempotency_key"]
        )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_keys_expires_at")
    op.drop_table("idempotency_keys")
