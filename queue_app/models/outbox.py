"""The SMS outbox, inbound messages (deduplicated) and each site's gateway settings."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, enum_column, intpk, utcnow


class MessageStatus(enum.StrEnum):
    """Normalised delivery statuses (every provider's are mapped onto these)."""

    QUEUED = "queued"
    # Claimed by a sender: the provider may or may not have it (reconciled on restart).
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    UNKNOWN = "unknown"


class OutboundMessage(Base):
    """One SMS (or WhatsApp message) to send: a durable row, sent once by the scheduler."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index("ix_outbound_messages_due", "status", "next_attempt_at"),
        Index("ix_outbound_messages_provider_id", "gateway", "provider_message_id"),
    )

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    # One message per key: enqueueing twice with the same key is a no-op.
    idempotency_key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16), default="sms")
    gateway: Mapped[str] = mapped_column(String(16))
    # Personal data: erased after the retention period.
    to_phone: Mapped[str | None] = mapped_column(String(20))
    body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[MessageStatus] = mapped_column(
        enum_column(MessageStatus, "message_status"), default=MessageStatus.QUEUED
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Not sent after this (a reminder after its slot is useless).
    expires_at: Mapped[datetime | None]
    # Whether the site's sending hours apply (reminders: yes; replies: no).
    quiet_hours: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    claimed_at: Mapped[datetime | None]
    provider_message_id: Mapped[str | None] = mapped_column(String(64))
    provider_status: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(String(300))
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="SET NULL")
    )
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<OutboundMessage {self.id} {self.kind} {self.status}>"


class InboundMessage(Base):
    """A message a citizen sent us; the unique key drops a provider's webhook retries."""

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("provider", "provider_message_id"),)

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(16))
    provider_message_id: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(16), default="sms")
    # Personal data: erased after the retention period.
    from_phone: Mapped[str | None] = mapped_column(String(20))
    body: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class SmsGatewaySettings(Base):
    """A site's own SMS gateway (its Android phone, its Orange account); secrets stay here."""

    __tablename__ = "sms_gateway_settings"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    gateway: Mapped[str] = mapped_column(String(16))
    # Public settings (sender number, base URL…), returned by the API.
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Credentials and signing keys: never returned by the API.
    secrets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
