"""Sites (offices), their services, counters and closures."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, enum_column, intpk, utcnow

if TYPE_CHECKING:
    from .accounts import User

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Site(Base):
    """An office: its time zone, languages and opening hours."""

    __tablename__ = "sites"

    id: Mapped[intpk]
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    # First language is the site's default (announcements, printed tickets).
    languages: Mapped[list[str]] = mapped_column(default=lambda: ["fr", "en"])
    # {"monday": [["08:00", "12:30"], ["14:00", "17:00"]], ...}, site-local times;
    # an empty mapping means no hours are set (always open, day ends at midnight).
    hours: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    services: Mapped[list[Service]] = relationship(
        back_populates="site", order_by="Service.position, Service.id"
    )
    counters: Mapped[list[Counter]] = relationship(
        back_populates="site", order_by="Counter.position, Counter.id"
    )
    closures: Mapped[list[SiteClosure]] = relationship(
        back_populates="site", order_by="SiteClosure.day", cascade="all, delete-orphan"
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
    priority_rule: Mapped[PriorityRule] = mapped_column(
        enum_column(PriorityRule, "priority_rule"),
        default=PriorityRule.FIRST,
        server_default=PriorityRule.FIRST.value,
    )

    site: Mapped[Site] = relationship(back_populates="services")

    def name_in(self, language: str | None = None) -> str:
        """The service's name in a language, falling back to the site's default."""
        if language and self.names.get(language):
            return str(self.names[language])
        default = self.site.default_language if self.site else "fr"
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
