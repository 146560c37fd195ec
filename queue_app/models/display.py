"""What waiting-room displays need beyond the queue: service filters and voice clips."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, LargeBinary, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, intpk, utcnow

# The services a device is configured for (a second waiting room shows only its
# own); a device without rows here shows every service of its site.
device_services = Table(
    "device_services",
    Base.metadata,
    Column("device_id", ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", ForeignKey("services.id", ondelete="CASCADE"), primary_key=True),
)


class VoiceClip(Base):
    """A recording an office uploaded for spoken calls ("ticket", a letter, a number...).

    Kept in the database so that every server process serves the same clips.
    """

    __tablename__ = "voice_clips"
    __table_args__ = (UniqueConstraint("site_id", "language", "key"),)

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(8))
    key: Mapped[str] = mapped_column(String(32))
    content_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
