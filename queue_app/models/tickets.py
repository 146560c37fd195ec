"""Tickets, their per-day number sequences and the append-only event log."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, enum_column, intpk, utcnow

if TYPE_CHECKING:
    from .accounts import User
    from .sites import Counter, Service, Site


class TicketStatus(enum.StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


ACTIVE_STATUSES = (TicketStatus.CALLED, TicketStatus.SERVING)


class PriorityClass(enum.StrEnum):
    NORMAL = "normal"
    # Elderly, disabled, pregnant: served before normal tickets.
    PRIORITY = "priority"
    # A checked-in appointment: served first once its slot has come.
    APPOINTMENT = "appointment"


# Lower rank is served first; stored so the waiting index can sort on it.
PRIORITY_RANK = {PriorityClass.APPOINTMENT: -1, PriorityClass.PRIORITY: 0, PriorityClass.NORMAL: 1}


class TicketSource(enum.StrEnum):
    KIOSK = "kiosk"
    STAFF = "staff"
    WEB = "web"
    SMS = "sms"
    APPOINTMENT = "appointment"


class TicketSequence(Base):
    """The last number given for a (service, site-local day): the atomic counter."""

    __tablename__ = "ticket_sequences"

    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    service_day: Mapped[date] = mapped_column(primary_key=True)
    last_number: Mapped[int]
    # The arrival time of the last ticket numbered: the next one's is never earlier
    # (numbering.py), so a service's tickets are called in the order of their numbers.
    last_issued_at: Mapped[datetime | None]


class Ticket(Base):
    """A citizen's place in a service's queue for one day."""

    __tablename__ = "tickets"
    __table_args__ = (
        # Invariant 1: a number is never given twice for a service and day.
        UniqueConstraint("issued_service_id", "service_day", "number"),
        # The queue: waiting tickets of a service and day in call order.
        Index(
            "ix_tickets_waiting_queue",
            "service_id",
            "service_day",
            "priority_rank",
            "queued_at",
            "id",
            postgresql_where=text("status = 'waiting'"),
            sqlite_where=text("status = 'waiting'"),
        ),
        Index("ix_tickets_site_day_called", "site_id", "service_day", "called_at"),
        Index("ix_tickets_counter_status", "counter_id", "status"),
    )

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    # The service whose sequence gave the number (a transfer keeps the label).
    issued_service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    service_day: Mapped[date]
    number: Mapped[int]
    label: Mapped[str] = mapped_column(String(16))
    # Public tracking code (/t/<code>); unguessable, shows no personal data.
    code: Mapped[str] = mapped_column(String(16), unique=True)
    priority_class: Mapped[PriorityClass] = mapped_column(
        enum_column(PriorityClass, "priority_class"), default=PriorityClass.NORMAL
    )
    priority_rank: Mapped[int] = mapped_column(SmallInteger, default=1)
    source: Mapped[TicketSource] = mapped_column(enum_column(TicketSource, "ticket_source"))
    status: Mapped[TicketStatus] = mapped_column(
        enum_column(TicketStatus, "ticket_status"), default=TicketStatus.WAITING
    )
    phone: Mapped[str | None] = mapped_column(String(20))
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counters.id", ondelete="SET NULL"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the ticket entered its current queue ordering (arrival time).
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_called_at: Mapped[datetime | None]
    called_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    recall_count: Mapped[int] = mapped_column(default=0)
    transfer_count: Mapped[int] = mapped_column(default=0)

    site: Mapped[Site] = relationship()
    service: Mapped[Service] = relationship(foreign_keys=[service_id])
    counter: Mapped[Counter | None] = relationship()
    agent: Mapped[User | None] = relationship()

    @property
    def is_waiting(self) -> bool:
        return self.status == TicketStatus.WAITING

    def __repr__(self) -> str:
        return f"<Ticket {self.id} {self.label} {self.status}>"


class EventKind(enum.StrEnum):
    ISSUED = "issued"
    CALLED = "called"
    RECALLED = "recalled"
    STARTED = "started"
    FINISHED = "finished"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    TRANSFERRED = "transferred"
    # Still waiting when the site's day closed.
    DAY_CLOSED = "day_closed"


class TicketEvent(Base):
    """One change of one ticket; never updated or deleted. Statistics read only this."""

    __tablename__ = "ticket_events"
    __table_args__ = (
        Index("ix_ticket_events_site_at", "site_id", "at"),
        # The latest events of a site: the version of what its screens show.
        Index("ix_ticket_events_site_id_id", "site_id", "id"),
    )

    # BIGINT on PostgreSQL; SQLite only autoincrements an INTEGER primary key.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    kind: Mapped[EventKind] = mapped_column(enum_column(EventKind, "event_kind"))
    from_status: Mapped[TicketStatus | None] = mapped_column(
        enum_column(TicketStatus, "event_from_status")
    )
    to_status: Mapped[TicketStatus] = mapped_column(enum_column(TicketStatus, "event_to_status"))
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counters.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any] | None]


@event.listens_for(TicketEvent, "before_update")
def _refuse_event_update(mapper: Any, connection: Any, target: TicketEvent) -> None:
    raise RuntimeError("ticket events are append-only")


@event.listens_for(TicketEvent, "before_delete")
def _refuse_event_delete(mapper: Any, connection: Any, target: TicketEvent) -> None:
    raise RuntimeError("ticket events are append-only")
