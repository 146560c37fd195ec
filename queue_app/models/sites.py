"""Sites (offices), their services, counters and closures."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, enum_column, intpk, utcnow

if TYPE_CHECKING:
    from .accounts import User

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Site(Base):
    """An office: its time zone, languages and opening hours."""

    __tablename__ = "sites"
    # A unique index (not a constraint): SQLite adds it without rebuilding the table.
    __table_args__ = (Index("uq_sites_sms_keyword", "sms_keyword", unique=True),)

    id: Mapped[intpk]
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    # First language is the site's default (announcements, printed tickets).
    languages: Mapped[list[str]] = mapped_column(default=lambda: ["fr", "en"])
    # {"monday": [["08:00", "12:30"], ["14:00", "17:00"]], ...}, site-local times;
    # a missing or empty day is closed ({} = closed every day). NULL means no
    # hours configured: always open, days end at local midnight (a new site, the demo).
    hours: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    # A line the manager shows on the waiting-room displays (None: no message).
    display_message: Mapped[str | None] = mapped_column(String(280))
    # The word that names this office in an SMS to a number several offices share
    # ("RDV THIES CNI"); None: derived from the slug (sms/offices.py).
    sms_keyword: Mapped[str | None] = mapped_column(String(20))
    # E.164 phone told of the site's new operational alerts by SMS (ops/alerts.py).
    alert_phone: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    services: Mapped[list[Service]] = relationship(
        back_populates="site", order_by="Service.position, Service.id"
    )
    counters: Mapped[list[Counter]] = relationship(
        back_populates="site", order_by="Counter.position, Counter.id"
    )
    # Loaded with the site: every ticket issued checks them (a lazy load per request).
    closures: Mapped[list[SiteClosure]] = relationship(
        back_populates="site",
        order_by="SiteClosure.day",
        cascade="all, delete-orphan",
        lazy="selectin",
    )

    @property
    def default_language(self) -> str:
        return self.languages[0] if self.languages else "fr"

    def __repr__(self) -> str:
        return f"<Site {self.slug}>"


class SiteClosure(Base):
    """A day the site is closed (public holiday)."""

    __tablename__ = "site_closures"
    __table_args__ = (UniqueConstraint("site_id", "day"),)

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    day: Mapped[date]
    site: Mapped[Site] = relationship(back_populates="closures")


class PriorityRule(enum.StrEnum):
    # Priority tickets (elderly, disabled, pregnant) are called before the others.
    FIRST = "first"
    # This service takes no priority tickets: everyone in order of arrival.
    NONE = "none"


class Service(Base):
    """What citizens come for; tickets are numbered per service and day."""

    __tablename__ = "services"
    __table_args__ = (
        UniqueConstraint("site_id", "code"),
        # Two services with one letter would print the same label twice a day.
        UniqueConstraint("site_id", "prefix"),
        CheckConstraint("target_wait_minutes > 0", name="target_wait_positive"),
        CheckConstraint("avg_service_seconds > 0", name="avg_service_positive"),
        CheckConstraint("slot_minutes BETWEEN 5 AND 480", name="slot_minutes_range"),
        CheckConstraint("slot_capacity BETWEEN 1 AND 100", name="slot_capacity_range"),
        CheckConstraint("booking_days_ahead BETWEEN 1 AND 365", name="booking_days_range"),
    )

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    prefix: Mapped[str] = mapped_column(String(3))
    # {"fr": "Casier judiciaire", "en": "Criminal record"}
    names: Mapped[dict[str, Any]] = mapped_column(default=dict)
    target_wait_minutes: Mapped[int] = mapped_column(default=20)
    # Learned from finished tickets (moving average), seeded by the manager.
    avg_service_seconds: Mapped[int] = mapped_column(default=300)
    is_active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Booking (appointments): off until a manager turns it on; slots of
    # slot_minutes within the site's opening hours, slot_capacity citizens each,
    # bookable up to booking_days_ahead days ahead.
    booking_enabled: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    slot_minutes: Mapped[int] = mapped_column(default=15, server_default=text("15"))
    slot_capacity: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    booking_days_ahead: Mapped[int] = mapped_column(default=14, server_default=text("14"))
    # Name of the kiosk pictogram (display/static/kiosk/icons/<icon>.svg).
    icon: Mapped[str | None] = mapped_column(String(32))
    # The short name SMS use (one segment leaves little room); None: derived from the name.
    sms_name: Mapped[str | None] = mapped_column(String(30))
    priority_rule: Mapped[PriorityRule] = mapped_column(
        enum_column(PriorityRule, "priority_rule"),
        default=PriorityRule.FIRST,
        server_default=PriorityRule.FIRST.value,
    )

    site: Mapped[Site] = relationship(back_populates="services")

    def name_in(self, language: str | None = None, *, site: Site | None = None) -> str:
        """The service's name in a language, falling back to the site's default.

        ``site``: the service's site when the caller holds it (a cached, detached service).
        """
        if language and self.names.get(language):
            return str(self.names[language])
        site = site if site is not None else self.site
        default = site.default_language if site else "fr"
        if self.names.get(default):
            return str(self.names[default])
        return next(iter(self.names.values()), self.code)

    @property
    def name(self) -> str:
        return self.name_in(None)

    def __repr__(self) -> str:
        return f"<Service {self.code}>"


class CounterState(enum.StrEnum):
    OPEN = "open"
    PAUSED = "paused"
    CLOSED = "closed"


class Counter(Base):
    """A box (guichet) where one agent at a time serves some services."""

    __tablename__ = "counters"
    __table_args__ = (
        UniqueConstraint("site_id", "name"),
        # An agent holds at most one counter.
        Index(
            "uq_counters_agent_id",
            "agent_id",
            unique=True,
            postgresql_where=text("agent_id IS NOT NULL"),
            sqlite_where=text("agent_id IS NOT NULL"),
        ),
    )

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    state: Mapped[CounterState] = mapped_column(
        enum_column(CounterState, "counter_state"), default=CounterState.CLOSED
    )
    pause_reason: Mapped[str | None] = mapped_column(String(200))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    state_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    position: Mapped[int] = mapped_column(default=0)

    site: Mapped[Site] = relationship(back_populates="counters")
    agent: Mapped[User | None] = relationship()
    service_links: Mapped[list[CounterService]] = relationship(
        back_populates="counter",
        cascade="all, delete-orphan",
        order_by="CounterService.position, CounterService.service_id",
    )

    @property
    def services(self) -> list[Service]:
        return [link.service for link in self.service_links]

    def __repr__(self) -> str:
        return f"<Counter {self.name}>"


class CounterService(Base):
    """A service served at a counter, with its weight in the call policy."""

    __tablename__ = "counter_services"
    __table_args__ = (CheckConstraint("weight BETWEEN 1 AND 100", name="weight_range"),)

    counter_id: Mapped[int] = mapped_column(
        ForeignKey("counters.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    weight: Mapped[int] = mapped_column(default=1)
    position: Mapped[int] = mapped_column(default=0)

    counter: Mapped[Counter] = relationship(back_populates="service_links")
    service: Mapped[Service] = relationship()
