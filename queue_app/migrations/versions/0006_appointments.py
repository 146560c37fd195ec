"""appointments, SMS outbox and booking dialogues

Revision ID: 0006_appointments
Revises: 0001
Create Date: 2026-11-30 16:35:59.917543
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import queue_app.models.base

revision = "0006_appointments"
down_revision = "0005_printing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("provider_message_id", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("from_phone", sa.String(length=20), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("received_at", queue_app.models.base.TZDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_inbound_messages_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
        sa.UniqueConstraint(
            "provider",
            "provider_message_id",
            name=op.f("uq_inbound_messages_provider_provider_message_id"),
        ),
    )
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_messages_site_id"), ["site_id"], unique=False)

    op.create_table(
        "sms_conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column(
            "last_inbound_at", queue_app.models.base.TZDateTime(timezone=True), nullable=True
        ),
        sa.Column("updated_at", queue_app.models.base.TZDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", queue_app.models.base.TZDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_sms_conversations_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_conversations")),
        sa.UniqueConstraint("site_id", "phone", name=op.f("uq_sms_conversations_site_id_phone")),
    )
    op.create_table(
        "sms_gateway_settings",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("gateway", sa.String(length=16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("secrets", sa.JSON(), nullable=False),
        sa.Column("updated_at", queue_app.models.base.TZDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_sms_gateway_settings_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_sms_gateway_settings")),
    )
    op.create_table(
        "slot_bookings",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("slot_start", queue_app.models.base.TZDateTime(timezone=True), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.CheckConstraint("booked >= 0", name=op.f("ck_slot_bookings_booked_not_negative")),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_slot_bookings_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_slot_bookings_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("service_id", "slot_start", name=op.f("pk_slot_bookings")),
    )
    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=12), nullable=False),
        sa.Column("slot_start", queue_app.models.base.TZDateTime(timezone=True), nullable=False),
        sa.Column("slot_end", queue_app.models.base.TZDateTime(timezone=True), nullable=False),
        sa.Column("service_day", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "booked",
                "cancelled",
                "checked_in",
                "no_show",
                name="appointment_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "channel",
            sa.Enum(
                "web",
                "sms",
                "whatsapp",
                "staff",
                name="booking_channel",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("created_at", queue_app.models.base.TZDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", queue_app.models.base.TZDateTime(timezone=True), nullable=True),
        sa.Column("checked_in_at", queue_app.models.base.TZDateTime(timezone=True), nullable=True),
        sa.Column("no_show_at", queue_app.models.base.TZDateTime(timezone=True), nullable=True),
        sa.Column("purged_at", queue_app.models.base.TZDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_appointments_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_appointments_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_appointments_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
        sa.UniqueConstraint("reference", name=op.f("uq_appointments_reference")),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index("ix_appointments_phone", ["phone"], unique=False)
        batch_op.create_index(
            "ix_appointments_service_slot", ["service_id", "slot_start"], unique=False
        )
        batch_op.create_index(
            "ix_appointments_site_day_status", ["site_id", "service_day", "status"], unique=False
        )

    op.create_table(
        "outbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("gateway", sa.String(length=16), nullable=False),
        sa.Column("to_phone", sa.String(length=20), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "sending",
                "sent",
                "delivered",
                "failed",
                "unknown",
                name="message_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", queue_app.models.base.TZDateTime(timezone=True), nullable=False
        ),
        sa.Column("expires_at", queue_app.models.base.TZDateTime(timezone=True), nullable=True),
        sa.Column("quiet_hours", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("claimed_at", queue_app.models.base.TZDateTime(timezone=True), nullable=True),
        sa.Column("provider_message_id", sa.String(length=64), nullable=True),
        sa.Column("provider_status", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("created_at", queue_app.models.base.TZDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", queue_app.models.base.TZDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", queue_app.models.base.TZDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_outbound_messages_appointment_id_appointments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_outbound_messages_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_outbound_messages_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_messages")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbound_messages_idempotency_key")),
    )
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbound_messages_due", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            "ix_outbound_messages_provider_id", ["gateway", "provider_message_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbound_messages_site_id"), ["site_id"], unique=False)

    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "booking_enabled", sa.Boolean(), server_default=sa.text("false"), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("slot_minutes", sa.Integer(), server_default=sa.text("15"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("slot_capacity", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "booking_days_ahead", sa.Integer(), server_default=sa.text("14"), nullable=False
            )
        )
        batch_op.create_check_constraint("slot_minutes_range", "slot_minutes BETWEEN 5 AND 480")
        batch_op.create_check_constraint("slot_capacity_range", "slot_capacity BETWEEN 1 AND 100")
        batch_op.create_check_constraint(
            "booking_days_range", "booking_days_ahead BETWEEN 1 AND 365"
        )
    # Tickets: the "appointment" priority class and source (longer values, wider CHECKs).
    _ticket_enums(
        priority=("normal", "priority", "appointment"),
        source=("kiosk", "staff", "web", "sms", "appointment"),
    )


def downgrade() -> None:
    _ticket_enums(priority=("normal", "priority"), source=("kiosk", "staff", "web", "sms"))
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_services_booking_days_range"), type_="check")
        batch_op.drop_constraint(op.f("ck_services_slot_capacity_range"), type_="check")
        batch_op.drop_constraint(op.f("ck_services_slot_minutes_range"), type_="check")
        batch_op.drop_column("booking_days_ahead")
        batch_op.drop_column("slot_capacity")
        batch_op.drop_column("slot_minutes")
        batch_op.drop_column("booking_enabled")

    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbound_messages_site_id"))
        batch_op.drop_index("ix_outbound_messages_provider_id")
        batch_op.drop_index("ix_outbound_messages_due")

    op.drop_table("outbound_messages")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index("ix_appointments_site_day_status")
        batch_op.drop_index("ix_appointments_service_slot")
        batch_op.drop_index("ix_appointments_phone")

    op.drop_table("appointments")
    op.drop_table("slot_bookings")
    op.drop_table("sms_gateway_settings")
    op.drop_table("sms_conversations")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_messages_site_id"))

    op.drop_table("inbound_messages")


def _ticket_enums(priority: tuple[str, ...], source: tuple[str, ...]) -> None:
    """Give tickets.priority_class and tickets.source these values (type width and CHECK)."""
    columns = (("priority_class", "priority_class", priority), ("source", "ticket_source", source))
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        for column, enum_name, values in columns:
            batch_op.drop_constraint(op.f(f"ck_tickets_{enum_name}"), type_="check")
            batch_op.alter_column(
                column,
                existing_type=sa.String(),
                type_=sa.String(length=max(len(v) for v in values)),
                existing_nullable=False,
            )
            quoted = ", ".join(f"'{v}'" for v in values)
            batch_op.create_check_constraint(enum_name, f"{column} IN ({quoted})")
