"""Operational alerts: a device gone quiet, a printer out of paper, a failing SMS gateway."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, intpk, utcnow


class Alert(Base):
    """One alert of a site, open from ``opened_at`` until its cause ends (``closed_at``).

    ``subject`` tells the causes of one kind apart ("device:12", "service:CNI",
    "sms"); at most one open alert per (site, kind, subject). Closed rows stay as
    history beside the audit log's entries.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open",
            "site_id",
            "kind",
            "subject",
            unique=True,
            postgresql_where=text("closed_at IS NULL"),
            sqlite_where=text("closed_at IS NULL"),
        ),
    )

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    # The name of what it is about (a device, a service), no personal data; the
    # sentence staff read is written from it in their language (ops/alerts.py).
    label: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    # When the site's alert phone was sent an SMS about it (once per alert).
    notified_at: Mapped[datetime | None]
