"""citizen SMS: an office keyword and a short service name for SMS; conversations on a
number several offices share (no site until the citizen names or picks an office)

Revision ID: 0010_citizen
Revises: 0009_one_path
Create Date: 2026-12-07 21:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_citizen"
down_revision = "0009_one_path"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Columns and an index SQLite adds in place: ``sites`` and ``services`` are never
    # rebuilt (a rebuild drops the parent table, which cascades to every child row).
    op.add_column("sites", sa.Column("sms_keyword", sa.String(length=20), nullable=True))
    op.create_index("uq_sites_sms_keyword", "sites", ["sms_keyword"], unique=True)
    op.add_column("services", sa.Column("sms_name", sa.String(length=30), nullable=True))
    with op.batch_alter_table("sms_conversations", schema=None) as batch_op:
        batch_op.alter_column("site_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(
            "uq_sms_conversations_shared_phone",
            ["phone"],
            unique=True,
            postgresql_where=sa.text("site_id IS NULL"),
            sqlite_where=sa.text("site_id IS NULL"),
        )


def downgrade() -> None:
    op.execute("DELETE FROM sms_conversations WHERE site_id IS NULL")
    with op.batch_alter_table("sms_conversations", schema=None) as batch_op:
        batch_op.drop_index("uq_sms_conversations_shared_phone")
        batch_op.alter_column("site_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index("uq_sites_sms_keyword", table_name="sites")
    # SQLite 3.35+ drops a column in place.
    op.drop_column("services", "sms_name")
    op.drop_column("sites", "sms_keyword")
