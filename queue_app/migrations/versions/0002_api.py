"""sites.hours nullable: NULL = no opening hours configured (always open)

Before, an empty mapping meant "no hours" (always open); now {} means "closed
every day", as the API documents it. Existing empty mappings become NULL so
that those sites stay open as they were.

Revision ID: 0002_api
Revises: 0001
Create Date: 2026-11-30 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_api"
down_revision = "0001"
branch_labels = None
depends_on = None

sites = sa.table(
    "sites", sa.column("id", sa.Integer()), sa.column("hours", sa.JSON(none_as_null=True))
)


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.alter_column("hours", existing_type=sa.JSON(), nullable=True)
    connection = op.get_bind()
    empty = [
        row.id for row in connection.execute(sa.select(sites.c.id, sites.c.hours)) if not row.hours
    ]
    if empty:
        connection.execute(sites.update().where(sites.c.id.in_(empty)).values(hours=sa.null()))


def downgrade() -> None:
    # NULL (always open) was written {} before; a site closed every day ({})
    # cannot be told apart in the old schema and becomes always open too.
    connection = op.get_bind()
    connection.execute(sites.update().where(sites.c.hours.is_(None)).values(hours={}))
    with op.batch_alter_table("sites") as batch:
        batch.alter_column("hours", existing_type=sa.JSON(), nullable=False)
