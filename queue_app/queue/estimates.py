"""The queue's order, the people ahead of a ticket, waiting counts and waiting estimates.

One order, written once (:func:`queue_order`): a service's waiting tickets are
called by rank (appointments whose time has come, then priority tickets, then
everyone else), then by arrival time, then by id. A checked-in appointment that
came early waits as an ordinary ticket from its check-in until its time comes,
so an idle counter can call it; from then on it goes first. The people ahead of
a ticket (:func:`ahead_of`) count the waiting tickets before it in that order,
and the publisher's positions enumerate the same order.

Counts are read from the tickets themselves through the partial index of
waiting tickets (``ix_tickets_waiting_queue``): no count is stored, so no row
is written by every change of a queue, and no agent waits on another's
transaction to read one (invariant 8).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    Date,
    Table,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from ..models import (
    PRIORITY_RANK,
    Counter,
    CounterService,
    CounterState,
    PriorityClass,
    Service,
    Site,
    Ticket,
    TicketStatus,
    utcnow,
)
from ..models.base import TZDateTime
from .service_times import expected_seconds

# Bounds for one learned service duration: outliers (a ticket left open over
# lunch, a mis-click) would otherwise swing the average.
MIN_SERVICE_SECONDS = 15
MAX_SERVICE_SECONDS = 2 * 3600

TICKETS: Table = cast(Table, Ticket.__table__)
NORMAL_RANK = PRIORITY_RANK[PriorityClass.NORMAL]

# The instant at which the order is read (an appointment's time has come or not).
NOW = bindparam("now", type_=TZDateTime())


def _early_appointment(table: Any, now: Any) -> Any:
    return and_(table.c.priority_class == PriorityClass.APPOINTMENT.value, table.c.queued_at > now)


def queue_order(table: Any = TICKETS, now: Any = NOW) -> tuple[Any, ...]:
    """The order in which a service's waiting tickets are called, as SQL expressions.

    ``now``: a bound parameter (default: the statement's ``now``) or a value.
    """
    if isinstance(now, datetime):
        now = bindparam("now", now, type_=TZDateTime())
    early = _early_appointment(table, now)
    return (
        case((early, NORMAL_RANK), else_=table.c.priority_rank),
        case((early, table.c.issued_at), else_=table.c.queued_at),
        table.c.id,
    )


def waiting_in_service(table: Any = TICKETS, *, day: Any = None) -> Any:
    """The condition of a service's waiting tickets of one day (the partial index's)."""
    return and_(
        table.c.service_day == (day if day is not None else bindparam("day", type_=Date())),
        table.c.status == TicketStatus.WAITING.value,
    )


def ahead_of(ticket: Any) -> Any:
    """People ahead of the ticket ``ticket`` names (a table correlated in the outer statement).

    The waiting tickets of its service and day before it in the queue order at
    ``now``. A ticket does not count itself.
    """
    other = TICKETS.alias("ahead")
    return (
        select(func.count())
        .select_from(other)
        .where(
            other.c.service_id == ticket.c.service_id,
            waiting_in_service(other, day=ticket.c.service_day),
            tuple_(*queue_order(other)) < tuple_(*queue_order(ticket)),
        )
        .correlate(ticket)
        .scalar_subquery()
    )


def open_counters_of(ticket: Any) -> Any:
    """How many open counters serve the service of the ticket ``ticket`` names."""
    return (
        select(func.count(Counter.id))
        .join(CounterService, CounterService.counter_id == Counter.id)
        .where(
            CounterService.service_id == ticket.c.service_id,
            Counter.state == CounterState.OPEN,
        )
        .correlate(ticket)
        .scalar_subquery()
    )


_POSITION = select(ahead_of(TICKETS), open_counters_of(TICKETS)).where(
    TICKETS.c.id == bindparam("ticket_id"), TICKETS.c.status == TicketStatus.WAITING.value
)


def wait_minutes(position: int, avg_service_seconds: int, open_counters: int) -> int:
    """Minutes for ``position`` people ahead, served by ``open_counters`` (at least one)."""
    if position <= 0:
        return 0
    return math.ceil(position * avg_service_seconds / max(open_counters, 1) / 60)


def estimate(
    session: Session, service: Service, timezone: str, ahead: int, counters: int, now: datetime
) -> int:
    """The estimated minutes of a wait behind ``ahead`` people at ``counters`` open counters."""
    return wait_minutes(ahead, expected_seconds(session, service, timezone, now), counters)


def position_and_wait(
    session: Session, ticket: Ticket, *, now: datetime | None = None
) -> tuple[int | None, int | None]:
    """People ahead and estimated minutes of a waiting ticket (one query), else Nones."""
    if ticket.status != TicketStatus.WAITING:
        return None, None
    now = now or utcnow()
    row = session.execute(_POSITION, {"ticket_id": ticket.id, "now": now}).first()
    if row is None:  # no longer waiting, committed by another transaction meanwhile
        return None, None
    ahead, counters = int(row[0]), int(row[1])
    service = ticket.service
    return ahead, estimate(session, service, ticket.site.timezone, ahead, counters, now)


def position_of(session: Session, ticket: Ticket) -> int | None:
    """People ahead of a waiting ticket in its service queue (0 = next), else None."""
    return position_and_wait(session, ticket)[0]


_OPEN_COUNTERS = (
    select(func.count(Counter.id))
    .join(CounterService, CounterService.counter_id == Counter.id)
    .where(
        CounterService.service_id == bindparam("service_id"),
        Counter.state == CounterState.OPEN,
    )
)


def open_counters_serving(session: Session, service_id: int) -> int:
    """How many open counters serve a service now."""
    return int(session.execute(_OPEN_COUNTERS, {"service_id": service_id}).scalar() or 0)


_WAITING = func.count(TICKETS.c.id)
_WAITING_COUNTS = (
    select(Service.code, _WAITING)
    .select_from(Service)
    .outerjoin(
        TICKETS,
        and_(TICKETS.c.service_id == Service.id, waiting_in_service(TICKETS)),
    )
    .where(Service.site_id == bindparam("site_id"))
    .group_by(Service.id, Service.code)
    .having(or_(Service.is_active, _WAITING > 0))
    .order_by(Service.position, Service.id)
)


def waiting_counts(session: Session, site: Site, day: date) -> dict[str, int]:
    """Waiting tickets per service code of a site for one day (zeros of active services)."""
    rows = session.execute(_WAITING_COUNTS, {"site_id": site.id, "day": day}).all()
    return {code: int(count) for code, count in rows}


def learnable_seconds(began: datetime | None, finished: datetime | None) -> int | None:
    """A finished ticket's service time in seconds, when it may teach the estimates."""
    if began is None or finished is None:
        return None
    seconds = (finished - began).total_seconds()
    if not MIN_SERVICE_SECONDS <= seconds <= MAX_SERVICE_SECONDS:
        return None
    return int(round(seconds))
