"""one booked appointment per phone, service and day, held by a partial unique index

Revision ID: 0012_one_booking
Revises: 0011_opsdev
Create Date: 2026-12-08 01:30:00

Bookings made at the same moment from two processes could both pass the read that
looked for an earlier one. Such doubles are cancelled (the first booking is kept)
before the index is built.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_one_booking"
down_revision = "0011_opsdev"
branch_labels = None
depends_on = None

WHERE = "status = 'booked' AND phone IS NOT NULL"


def upgrade() -> None:
    op.execute(
        "UPDATE appointments SET status = 'cancelled' "
        "WHERE status = 'booked' AND phone IS NOT NULL AND id > ("
        " SELECT MIN(first.id) FROM appointments AS first"
        " WHERE first.service_id = appointments.service_id"
        " AND first.service_day = appointments.service_day"
        " AND first.phone = appointments.phone AND first.status = 'booked')"
    )
    op.create_index(
        "uq_appointments_one_per_phone",
        "appointments",
        ["service_id", "service_day", "phone"],
        unique=True,
        postgresql_where=sa.text(WHERE),
        sqlite_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index("uq_appointments_one_per_phone", table_name="appointments")
