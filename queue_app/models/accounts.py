"""People and devices that talk to the server: users, their API tokens, devices."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, enum_column, intpk, utcnow
from .sites import Service, Site


class Role(enum.StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    AGENT = "agent"


user_sites = Table(
    "user_sites",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
)


def new_security_stamp() -> str:
    """A fresh random stamp: the sessions and tokens issued under the old one stop working."""
    return secrets.token_hex(16)


class User(Base):
    """An admin, manager or agent; managers and agents belong to sites.

    ``security_stamp`` changes whenever the password changes or the user is
    deactivated: web sessions and API tokens carry the stamp they were issued
    under and are accepted only while it is the user's current one.
    """

    __tablename__ = "users"

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role, "user_role"))
    locale: Mapped[str | None] = mapped_column(String(8))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    security_stamp: Mapped[str] = mapped_column(
        String(32), default=new_security_stamp, server_default=""
    )

    sites: Mapped[list[Site]] = relationship(secondary=user_sites, order_by="Site.slug")

    # Flask-Login protocol.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class ApiToken(Base):
    """A bearer token given by POST /api/v1/auth/token; only its hash is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    security_stamp: Mapped[str] = mapped_column(String(32), server_default="")

    user: Mapped[User] = relationship()


class UserSession(Base):
    """A sign-in on the web pages (one per browser); only the hash of its secret is kept.

    The session cookie, and the "stay signed in" cookie when asked for, carry
    the secret. Signing out deletes the row; a password change or deactivation
    changes the user's security stamp, which ends every row at once.
    """

    __tablename__ = "user_sessions"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    security_stamp: Mapped[str] = mapped_column(String(32))
    remember: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)

    user: Mapped[User] = relationship()


class DeviceKind(enum.StrEnum):
    KIOSK = "kiosk"
    DISPLAY = "display"
    TABLET = "tablet"
    PRINTER = "printer"


class Device(Base):
    """A kiosk, display, counter tablet or print agent of one site."""

    __tablename__ = "devices"

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    kind: Mapped[DeviceKind] = mapped_column(enum_column(DeviceKind, "device_kind"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # Kiosks: the ticket printer (a URL: tcp://, usb://, serial://, file://, dummy:),
    # its layout options ({"paper_width_mm": 80, "codepage": "cp1252", "footer": [...]}),
    # the print agent that prints for it (None: the server prints directly), and
    # the printer's last known status ({"online", "paper", "error", "at"}).
    printer: Mapped[str | None] = mapped_column(String(255))
    printer_options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    print_agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL")
    )
    printer_status: Mapped[dict[str, Any] | None]

    site: Mapped[Site] = relationship()
    # Services this device is configured for; empty: all of its site's.
    services: Mapped[list[Service]] = relationship(
        secondary="device_services", order_by="Service.position, Service.id"
    )

    def __repr__(self) -> str:
        return f"<Device {self.id} {self.kind}>"
