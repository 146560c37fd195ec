"""Positions in the queue, waiting counts and a first estimate of waiting time.

The statements are built once with bound parameters: these run on every
ticket issued, and building SQLAlchemy expressions costs more than running them.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, bindparam, func, select, text, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..models import (
    Counter,
    CounterService,
    CounterState,
    QueueCount,
    Service,
    ServiceTimeProfile,
    Site,
    Ticket,
    TicketStatus,
    utcnow,
)
from ..models.base import TZDateTime
from .days import zone
from .rawsql import Raw, Statement, bind_date
from .service_times import ALL_HOURS, local_hour

# Bounds for one learned service duration: outliers (a ticket left open over
# lunch, a mis-click) would otherwise swing the average.
MIN_SERVICE_SECONDS = 15
MAX_SERVICE_SECONDS = 2 * 3600

QUEUE_ORDER = (Ticket.priority_rank, Ticket.queued_at, Ticket.id)

_AHEAD = (
    select(func.count(Ticket.id))
    .where(
        Ticket.service_id == bindparam("service_id"),
        Ticket.service_day == bindparam("service_day", type_=Date()),
        Ticket.status == TicketStatus.WAITING,
        tuple_(*QUEUE_ORDER)
        < tuple_(
            bindparam("priority_rank"),
            bindparam("queued_at", type_=TZDateTime()),
            bindparam("ticket_id"),
        ),
    )
    .scalar_subquery()
)

_OPEN_COUNTERS = (
    select(func.count(Counter.id))
    .join(CounterService, CounterService.counter_id == Counter.id)
    .where(CounterService.service_id == bindparam("service_id"), Counter.state == CounterState.OPEN)
    .scalar_subquery()
)


def _profile_seconds(hour: Any) -> Any:
    return (
        select(ServiceTimeProfile.mean_seconds)
        .where(
            ServiceTimeProfile.service_id == bindparam("service_id"),
            ServiceTimeProfile.hour == hour,
            ServiceTimeProfile.mean_seconds > 0,
        )
        .scalar_subquery()
    )


# The seconds one citizen is expected to take (service_times.py), in the same
# statement as the people ahead: the learned mean at this site-local hour, else
# over all hours, else the service's moving average.
_EXPECTED_SECONDS = func.coalesce(
    _profile_seconds(bindparam("hour")),
    _profile_seconds(ALL_HOURS),
    select(Service.avg_service_seconds)
    .where(Service.id == bindparam("service_id"))
    .scalar_subquery(),
)

_POSITION_AND_COUNTERS = select(_AHEAD, _OPEN_COUNTERS, _EXPECTED_SECONDS)

# Before a new ticket exists: everyone waiting with the same or a better rank,
# from the counts the database keeps (models.QueueCount), not counted over the
# queue; then the open counters serving the service and the seconds one
# citizen is expected to take (as _EXPECTED_SECONDS). Plain SQL: this runs on
# every ticket issued (rawsql.py). Three columns that ISSUE_POSTGRESQL
# (numbering.py) also reads, inside the statement that issues.
AHEAD_COLUMNS_SQL = f"""
        (SELECT coalesce(sum(waiting), 0) FROM queue_counts
         WHERE service_id = :service_id AND service_day = :service_day
           AND priority_rank <= :priority_rank) AS position,
        (SELECT count(counters.id) FROM counters
         JOIN counter_services ON counter_services.counter_id = counters.id
         WHERE counter_services.service_id = :service_id AND counters.state = 'open') AS counters,
        coalesce(
            (SELECT mean_seconds FROM service_time_profiles
             WHERE service_id = :service_id AND hour = :hour AND mean_seconds > 0),
            (SELECT mean_seconds FROM service_time_profiles
             WHERE service_id = :service_id AND hour = {ALL_HOURS} AND mean_seconds > 0),
            (SELECT avg_service_seconds FROM services WHERE id = :service_id)) AS seconds
"""  # noqa: S608 - ALL_HOURS is a constant
AHEAD_OF_NEWCOMER = Statement(f"SELECT {AHEAD_COLUMNS_SQL}")  # noqa: S608 - constants only


def wait_minutes_sql(position: str, seconds: str, counters: str) -> str:
    """:func:`wait_minutes` as a SQL expression (exact: numeric, not floating point)."""
    return (
        f"CASE WHEN {position} <= 0 THEN 0 ELSE CAST(ceil("
        f"CAST({position} AS numeric) * {seconds} / greatest({counters}, 1) / 60) AS integer) END"
    )


_OPEN_COUNTERS_ONLY = select(_OPEN_COUNTERS)

# From the counts the database keeps (models.QueueCount): a few rows per service,
# whatever the length of the queues.
_WAITING = func.coalesce(func.sum(QueueCount.waiting), 0)
_WAITING_COUNTS = (
    select(Service.code, _WAITING)
    .select_from(Service)
    .outerjoin(
        QueueCount,
        (QueueCount.service_id == Service.id)
        & (QueueCount.service_day == bindparam("service_day", type_=Date())),
    )
    .where(Service.site_id == bindparam("site_id"))
    .group_by(Service.id, Service.code)
    .having(Service.is_active | (_WAITING > 0))
    .order_by(Service.position, Service.id)
)


def queue_order() -> tuple[Any, ...]:
    """The order in which a service's waiting tickets are called."""
    return QUEUE_ORDER


def _position_params(ticket: Ticket) -> dict[str, object]:
    return {
        "service_id": ticket.service_id,
        "service_day": ticket.service_day,
        "priority_rank": ticket.priority_rank,
        "queued_at": ticket.queued_at,
        "ticket_id": ticket.id,
    }


def position_of(session: Session, ticket: Ticket) -> int | None:
    """People ahead of a waiting ticket in its service queue (0 = next), else None."""
    return position_and_wait(session, ticket)[0]


def position_and_wait(
    session: Session, ticket: Ticket, *, now: datetime | None = None
) -> tuple[int | None, int | None]:
    """People ahead and estimated minutes of a waiting ticket (one query), else Nones."""
    if ticket.status != TicketStatus.WAITING:
        return None, None
    params = _position_params(ticket)
    params["hour"] = local_hour(ticket.service, now or utcnow())
    ahead, counters, seconds = session.execute(_POSITION_AND_COUNTERS, params).one()
    position = int(ahead or 0)
    seconds = int(seconds or ticket.service.avg_service_seconds)
    return position, wait_minutes(position, seconds, int(counters or 0))


def ahead_of_newcomer(
    session: Session | Raw,
    service: Service,
    day: date,
    priority_rank: int,
    *,
    now: datetime | None = None,
    timezone: str | None = None,
) -> tuple[int, int]:
    """People ahead of a ticket about to join a service's queue, and the estimated minutes.

    The minutes use the service time learned for this service at this hour of
    the day and the counters serving it that are open now (the same statement).
    ``timezone``: the site's (else read from ``service.site``).
    """
    raw = session if isinstance(session, Raw) else Raw(session)
    params = {
        "service_id": service.id,
        "service_day": bind_date(raw.dialect, day),
        "priority_rank": priority_rank,
        "hour": local_hour_of(now, timezone or service.site.timezone),
    }
    return position_and_minutes(service, *raw.one(AHEAD_OF_NEWCOMER, params))


def local_hour_of(now: datetime | None, timezone: str) -> int:
    """The site-local hour whose learned service time a newcomer's estimate uses."""
    return (now or utcnow()).astimezone(zone(timezone)).hour


def position_and_minutes(
    service: Service, ahead: int | None, counters: int | None, seconds: int | None
) -> tuple[int, int]:
    """People ahead and estimated minutes, from :data:`AHEAD_COLUMNS_SQL`'s three columns."""
    position = int(ahead or 0)
    return position, wait_minutes(
        position, int(seconds or service.avg_service_seconds), int(counters or 0)
    )


def open_counters_serving(session: Session, service_id: int) -> int:
    """How many open counters serve a service now."""
    return int(session.execute(_OPEN_COUNTERS_ONLY, {"service_id": service_id}).scalar() or 0)


def wait_minutes(position: int, avg_service_seconds: int, open_counters: int) -> int:
    """Minutes for ``position`` people ahead, served by ``open_counters`` (at least one)."""
    if position <= 0:
        return 0
    return math.ceil(position * avg_service_seconds / max(open_counters, 1) / 60)


def waiting_counts(session: Session, site: Site, day: date) -> dict[str, int]:
    """Waiting tickets per service code of a site for one day (zeros of active services)."""
    rows = session.execute(_WAITING_COUNTS, {"site_id": site.id, "service_day": day}).all()
    return {code: int(count) for code, count in rows}


# new = old + (duration - old) / 5, in integers, rounded: the same on both databases.
LEARN_SQL = (
    "UPDATE services "
    "SET avg_service_seconds = (avg_service_seconds * 4 + :seconds + 2) / 5 "
    "WHERE id = :service_id "
    "RETURNING avg_service_seconds"
)
_LEARN = text(LEARN_SQL)


def learnable_seconds(began: datetime | None, finished: datetime | None) -> int | None:
    """A finished ticket's service time in seconds, when it may teach its service's average."""
    if began is None or finished is None:
        return None
    seconds = (finished - began).total_seconds()
    if not MIN_SERVICE_SECONDS <= seconds <= MAX_SERVICE_SECONDS:
        return None
    return int(round(seconds))


def learn_service_duration(session: Session, service: Service, seconds: int) -> None:
    """Fold one finished ticket's duration (:func:`learnable_seconds`) into the service's average.

    One UPDATE computing from the stored value (row-locks the service until
    commit): two agents finishing at once both count, neither overwrites the
    other with an average read before it changed.
    """
    learned = session.execute(_LEARN, {"seconds": seconds, "service_id": service.id}).scalar_one()
    # What the database now holds, without marking the object changed.
    set_committed_value(service, "avg_service_seconds", int(learned))
