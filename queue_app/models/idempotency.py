"""Idempotency keys: what a retried create (a ticket, a booking, an inbound SMS) made."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class IdempotencyKey(Base):
    """One key of one sender, the request it came with and what it created, until it expires.

    ``scope`` names the sender (``device:12``, ``user:5``, ``sms:twilio``): the
    same key from two senders is two keys. ``fingerprint`` digests the request,
    so the same key with another body is refused. ``resource_kind`` and
    ``resource_ref`` name what the first request created (a ticket's tracking
    code, a booking's reference...). Rows past ``expires_at`` no longer count and
    are purged by the ``idempotency`` job. Written only by queue/idempotency.py.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("scope", "key"),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )

    # BIGINT on PostgreSQL; SQLite only autoincrements an INTEGER primary key.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(64))
    resource_kind: Mapped[str] = mapped_column(String(32))
    resource_ref: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]

    def __repr__(self) -> str:
        return f"<IdempotencyKey {self.scope} {self.key!r} {self.resource_kind}>"
