"""Appointments, the booked count of each slot, and SMS booking dialogues."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, enum_column, intpk, utcnow

if TYPE_CHECKING:
    from .sites import Service, Site
    from .tickets import Ticket


class AppointmentStatus(enum.StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    CHECKED_IN = "checked_in"
    NO_SHOW = "no_show"


class BookingChannel(enum.StrEnum):
    WEB = "web"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    STAFF = "staff"


class Appointment(Base):
    """A citizen's booked slot at a service; becomes a ticket at check-in."""

    __tablename__ = "appointments"
    __table_args__ = (
        Index("ix_appointments_site_day_status", "site_id", "service_day", "status"),
        Index("ix_appointments_service_slot", "service_id", "slot_start"),
        Index("ix_appointments_phone", "phone"),
        # One booked appointment per phone, service and day, whoever books at once.
        Index(
            "uq_appointments_one_per_phone",
            "service_id",
            "service_day",
            "phone",
            unique=True,
            postgresql_where=text("status = 'booked' AND phone IS NOT NULL"),
            sqlite_where=text("status = 'booked' AND phone IS NOT NULL"),
        ),
    )

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    # Short public code, read over the phone and typed in an SMS (no 0/O, 1/I/L).
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    slot_start: Mapped[datetime]
    slot_end: Mapped[datetime]
    # The site-local day of the slot (day close, lists of the day).
    service_day: Mapped[date]
    status: Mapped[AppointmentStatus] = mapped_column(
        enum_column(AppointmentStatus, "appointment_status"), default=AppointmentStatus.BOOKED
    )
    channel: Mapped[BookingChannel] = mapped_column(
        enum_column(BookingChannel, "booking_channel"), default=BookingChannel.WEB
    )
    # Personal data: erased after the retention period (purged_at then set).
    phone: Mapped[str | None] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(8), default="fr")
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    no_show_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]

    site: Mapped[Site] = relationship()
    service: Mapped[Service] = relationship()
    ticket: Mapped[Ticket | None] = relationship()

    def __repr__(self) -> str:
        return f"<Appointment {self.reference} {self.status}>"


class SlotBooking(Base):
    """How many appointments a slot holds: the atomic counter behind 'no overbooking'."""

    __tablename__ = "slot_bookings"
    __table_args__ = (CheckConstraint("booked >= 0", name="booked_not_negative"),)

    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    slot_start: Mapped[datetime] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    booked: Mapped[int] = mapped_column(default=0)


class SmsConversation(Base):
    """Where an SMS booking dialogue with one phone number stands (expires).

    A row without a site is the dialogue on a number that several offices share
    (a national short code): which office the citizen chose, or the list offered.
    """

    __tablename__ = "sms_conversations"
    __table_args__ = (
        UniqueConstraint("site_id", "phone"),
        Index(
            "uq_sms_conversations_shared_phone",
            "phone",
            unique=True,
            postgresql_where=text("site_id IS NULL"),
            sqlite_where=text("site_id IS NULL"),
        ),
    )

    id: Mapped[intpk]
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(16), default="sms")
    language: Mapped[str] = mapped_column(String(8), default="fr")
    step: Mapped[str] = mapped_column(String(32), default="idle")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The last message the citizen sent us (WhatsApp's 24-hour window counts from it).
    last_inbound_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
