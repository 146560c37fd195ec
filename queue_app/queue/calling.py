"""Calling the next ticket at a counter (invariant 2: one ticket, one counter)."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Select, bindparam, or_, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..models import (
    ACTIVE_STATUSES,
    Counter,
    CounterService,
    CounterState,
    EventKind,
    PriorityClass,
    Service,
    Ticket,
    TicketStatus,
    utcnow,
)
from ..models.base import TZDateTime
from . import errors
from .actors import Actor
from .days import service_day
from .estimates import queue_order
from .policy import Candidate, choose_next
from .publish import publish_call, publish_positions, publish_queue_changed, publish_ticket
from .sites import cached_service
from .tickets import finish, learn_from, record, write

log = logging.getLogger(__name__)


_LOCK_COUNTER = (
    select(Counter)
    .where(Counter.id == bindparam("counter_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


def lock_counter(session: Session, counter_id: int) -> Counter:
    """Load a counter row-locked, so one counter's actions run one after the other."""
    counter = session.scalar(_LOCK_COUNTER, {"counter_id": counter_id})
    if counter is None:
        raise errors.NotFound(counter=counter_id)
    return counter


def current_ticket(session: Session, counter: Counter) -> Ticket | None:
    """The ticket called or being served at a counter, if any."""
    return session.scalar(
        select(Ticket)
        .where(Ticket.counter_id == counter.id, Ticket.status.in_(ACTIVE_STATUSES))
        .order_by(Ticket.called_at.desc())
        .limit(1)
    )


def call_next(
    session: Session,
    counter: Counter,
    *,
    actor: Actor,
    now: datetime | None = None,
    locked: bool = False,
) -> Ticket | None:
    """Call the next ticket for a counter; None when nothing waits for its services.

    The counter's ticket in progress is finished first. Locks the counter, then
    only the ticket it calls: the heads of the counter's services are read
    without locks, the policy chooses one, and that one is locked with SKIP
    LOCKED on PostgreSQL. When another agent is calling it at that instant, it
    is set aside and the choice made again, so a concurrent agent never skips
    a head that nobody calls and no ticket is called twice. SQLite serialises
    write transactions: the head read is the one called. Queues
    ``ticket_called``, ``queue_changed`` and position updates. ``locked``: the
    caller has just loaded ``counter`` with :func:`lock_counter` in this transaction.
    """
    now = now or utcnow()
    if not locked:
        counter = lock_counter(session, counter.id)
    if counter.state != CounterState.OPEN:
        raise errors.CounterNotOpen(state=counter.state.value)
    site = counter.site
    day = service_day(site, now)

    in_progress = session.scalars(
        select(Ticket)
        .where(Ticket.counter_id == counter.id, Ticket.status.in_(ACTIVE_STATUSES))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    for done in in_progress:
        cached_service(session, done.service_id)
        finish(session, done, actor=actor, now=now, learn=False)

    ticket = _take_next(session, counter, day, now)
    if ticket is not None:
        cached_service(session, ticket.service_id)
        write(
            session,
            ticket,
            status=TicketStatus.CALLED,
            counter_id=counter.id,
            agent_id=actor.user_id,
            called_at=now,
            first_called_at=ticket.first_called_at or now,
        )
        set_committed_value(ticket, "counter", counter)
        record(session, ticket, EventKind.CALLED, TicketStatus.WAITING, actor, now)
        publish_call(session, ticket, counter, recall=False)
        publish_ticket(session, ticket)
        publish_positions(session, [ticket.service_id])
        log.debug("counter %s called %s", counter.id, ticket.label)
    if ticket is not None or in_progress:
        publish_queue_changed(session, site)
    # Last, in service order: the learned durations' row locks (one per service)
    # are then held for the commit only, not while the next ticket is chosen,
    # and two counters never take them in opposite orders.
    for done in sorted(in_progress, key=lambda t: t.service_id):
        learn_from(session, done)
    return ticket


# Each round sets aside one ticket another transaction holds, so this bounds
# the agents calling at the same instant, not the length of the queue.
MAX_CHOICES = 64


_LINKS = (
    select(CounterService.service_id, CounterService.weight)
    .join(Service, Service.id == CounterService.service_id)
    .where(CounterService.counter_id == bindparam("counter_id"), Service.is_active)
)


def counter_weights(session: Session, counter_id: int) -> dict[int, int]:
    """The active services a counter serves, with their weights (service id → weight).

    Read through the per-process cache of set-up rows (hotcache.py): a change
    to a counter's services or a service's state drops it.
    """
    from ..hotcache import cached

    def load() -> dict[int, int]:
        return dict(session.execute(_LINKS, {"counter_id": counter_id}).tuples().all())

    return cached(("counter_weights", counter_id), load)


# PostgreSQL: the first few waiting tickets of each service are read at once,
# so that an agent whose choice another agent is locking at that instant
# chooses again among them, without reading the queue again.
HEADS_AHEAD = 4

_LOCK_HEAD = (
    select(Ticket)
    .where(
        Ticket.id == bindparam("ticket_id"),
        Ticket.service_id == bindparam("service_id"),
        Ticket.service_day == bindparam("day", type_=Date()),
        Ticket.status == TicketStatus.WAITING,
    )
    .with_for_update(skip_locked=True)
    .execution_options(populate_existing=True)
)


def _take_next(session: Session, counter: Counter, day: date, now: datetime) -> Ticket | None:
    weights = counter_weights(session, counter.id)
    if not weights:
        return None
    # Row locks exist on PostgreSQL only; on SQLite this transaction holds the
    # writer lock, so nobody else is calling.
    locking = session.get_bind().dialect.name == "postgresql"
    ahead = HEADS_AHEAD if locking else 1
    held_elsewhere: list[int] = []
    rows: list[Ticket] | None = None
    for _ in range(MAX_CHOICES):
        if rows is None:
            statement, params = _heads_params(sorted(weights), day, now, held_elsewhere, ahead)
            rows = sorted(
                session.scalars(statement, params).all(),
                key=lambda t: (t.priority_rank, t.queued_at, t.id),
            )
        # Each service's first ticket not set aside, in queue order.
        heads: dict[int, Ticket] = {}
        fetched: dict[int, int] = {}
        for row in rows:
            fetched[row.service_id] = fetched.get(row.service_id, 0) + 1
            if row.id not in held_elsewhere and row.service_id not in heads:
                heads[row.service_id] = row
        if any(n >= ahead and sid not in heads for sid, n in fetched.items()):
            # A service's tickets read are all set aside: more may wait behind them.
            rows = None
            continue
        chosen = choose_next(
            [
                Candidate(
                    ticket_id=head.id,
                    service_id=head.service_id,
                    is_priority=head.priority_class == PriorityClass.PRIORITY,
                    waiting_since=head.queued_at,
                    weight=weights[head.service_id],
                    is_appointment=head.priority_class == PriorityClass.APPOINTMENT,
                )
                for head in heads.values()
            ],
            now,
        )
        if chosen is None:
            return None
        head = heads[chosen.service_id]
        if not locking:
            return head
        locked = session.scalar(
            _LOCK_HEAD, {"ticket_id": head.id, "service_id": head.service_id, "day": day}
        )
        if locked is not None:
            return locked
        # Being called (or changed) by another transaction right now: choose again.
        held_elsewhere.append(head.id)
    log.warning("counter %s: no queue head could be locked after %d tries", counter.id, MAX_CHOICES)
    return None


def _heads_params(
    service_ids: list[int], day: date, now: datetime, excluded: list[int], ahead: int = 1
) -> tuple[Select[tuple[Ticket]], dict[str, object]]:
    """:func:`_heads` and its parameters (built once per set of services, without exclusions)."""
    params: dict[str, object] = {"day": day, "now": now}
    if excluded:
        return _heads(service_ids, day, now, excluded, ahead), {}
    key = (tuple(service_ids), ahead)
    statement = _HEADS.get(key)
    if statement is None:
        statement = _heads(
            service_ids,
            bindparam("day", type_=Date()),
            bindparam("now", type_=TZDateTime()),
            [],
            ahead,
        )
        if len(_HEADS) < 1024:
            _HEADS[key] = statement
    return statement, params


_HEADS: dict[tuple[tuple[int, ...], int], Select[tuple[Ticket]]] = {}


def _heads(
    service_ids: list[int], day: Any, now: Any, excluded: list[int], ahead: int = 1
) -> Select[tuple[Ticket]]:
    """The first ``ahead`` waiting tickets of each service (one statement, no lock)."""
    firsts = []
    for service_id in service_ids:
        first = (
            select(Ticket.id)
            .where(
                Ticket.service_id == service_id,
                Ticket.service_day == day,
                Ticket.status == TicketStatus.WAITING,
                # A checked-in appointment waits for its slot (queued_at) to be called.
                or_(Ticket.priority_class != PriorityClass.APPOINTMENT, Ticket.queued_at <= now),
            )
            .order_by(*queue_order())
            .limit(ahead)
        )
        if excluded:
            first = first.where(Ticket.id.not_in(excluded))
        firsts.append(select(first.subquery().c.id))
    ids = firsts[0] if len(firsts) == 1 else union_all(*firsts)
    return select(Ticket).where(Ticket.id.in_(ids))
