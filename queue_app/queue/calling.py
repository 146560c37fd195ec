"""Calling the next ticket at a counter (invariant 2: one ticket, one counter)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, union_all, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

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
from . import changes, errors, ports
from .actors import Actor
from .days import service_day
from .estimates import NOW, TICKETS, queue_order, waiting_in_service
from .policy import Candidate, choose_next
from .sites import cached_service
from .tickets import loaded_ticket, record

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


_ACTIVE = [status.value for status in ACTIVE_STATUSES]

# The counter's tickets in progress, finished; returns them as now stored. Locks
# them (the counter is locked already: nobody else calls or finishes here).
_FINISH_IN_PROGRESS = (
    update(TICKETS)
    .where(TICKETS.c.counter_id == bindparam("at_counter"), TICKETS.c.status.in_(_ACTIVE))
    .values(status=TicketStatus.DONE.value, finished_at=NOW)
    .returning(*TICKETS.c)
)


def _head(service_param: str) -> Any:
    """The first waiting ticket of one service, no lock: what the policy weighs."""
    return (
        select(*TICKETS.c)
        .where(TICKETS.c.service_id == bindparam(service_param), waiting_in_service())
        .order_by(*queue_order())
        .limit(1)
        .subquery()
    )


_HEADS: dict[int, Any] = {}


def _heads(count: int) -> Any:
    """The heads of ``count`` services (``service_0``...), one statement, built once per count."""
    statement = _HEADS.get(count)
    if statement is None:
        parts = [select(head) for head in (_head(f"service_{n}") for n in range(count))]
        statement = _HEADS[count] = parts[0] if count == 1 else union_all(*parts)
    return statement


# The first waiting ticket of the chosen service that no other transaction holds
# (usually the head the policy chose; the next one while another agent is calling
# it), locked and called; returns it, or no row when the service has none left.
# SKIP LOCKED compiles to nothing on SQLite, where this transaction holds the
# writer lock and nobody else is calling.
_QUEUED = TICKETS.alias("queued")
_FIRST_FREE = (
    select(_QUEUED.c.id)
    .where(_QUEUED.c.service_id == bindparam("calling_service"), waiting_in_service(_QUEUED))
    .order_by(*queue_order(_QUEUED))
    .limit(1)
    .with_for_update(skip_locked=True)
    .scalar_subquery()
)
_CALL_FIRST = (
    update(TICKETS)
    .where(TICKETS.c.id == _FIRST_FREE, TICKETS.c.status == TicketStatus.WAITING.value)
    .values(
        status=TicketStatus.CALLED.value,
        counter_id=bindparam("calling_counter"),
        agent_id=bindparam("calling_agent"),
        called_at=NOW,
        first_called_at=func.coalesce(TICKETS.c.first_called_at, NOW),
    )
    .returning(*TICKETS.c)
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

    The counter's tickets in progress are finished first. Besides the counter
    (row-locked; ``locked``: the caller has just loaded it with
    :func:`lock_counter` in this transaction), locks only the tickets it
    finishes and the one it calls: the heads of the counter's services are read
    without locks and the policy chooses a service; its first waiting ticket
    that no other transaction holds is then locked (SKIP LOCKED) and called in
    one statement. So an agent whose head another agent is calling at that
    instant takes the next one without waiting or reading again, no agent
    waits on another's call, and no ticket is called twice. Queues
    ``ticket_called``, ``feedback_request``, and the ticket, counter, position
    and queue pushes.
    """
    now = now or utcnow()
    if not locked:
        counter = lock_counter(session, counter.id)
    if counter.state != CounterState.OPEN:
        raise errors.CounterNotOpen(state=counter.state.value)
    site = counter.site
    day = service_day(site, now)
    # What follows are statements, not unit-of-work changes: pending ones first.
    session.flush()

    for columns in session.execute(
        _FINISH_IN_PROGRESS, {"at_counter": counter.id, "now": now}
    ).mappings():
        done = _as_ticket(session, dict(columns), counter)
        # Serving means started: the status before this finish.
        previous = TicketStatus.SERVING if done.started_at is not None else TicketStatus.CALLED
        record(session, done, EventKind.FINISHED, previous, actor, now)
        changes.ticket_changed(session, done)
        changes.ticket_finished(session, done)

    called = _call_next_head(session, counter.id, day, now, actor)
    if called is None:
        changes.queue_changed(session, site)
        return None
    ticket = _as_ticket(session, called, counter)
    record(session, ticket, EventKind.CALLED, TicketStatus.WAITING, actor, now)
    log.debug("counter %s called %s", counter.id, ticket.label)
    changes.ticket_called(session, ticket, counter, recall=False)
    changes.ticket_changed(session, ticket)
    changes.positions_changed(session, [ticket.service_id])
    changes.queue_changed(session, site)
    return ticket


def _as_ticket(session: Session, columns: dict[str, Any], counter: Counter) -> Ticket:
    """The session's object of a ticket row a statement returned, holding these values."""
    found = session.identity_map.get(identity_key(Ticket, columns["id"]))
    if found is not None:
        for key, value in columns.items():
            set_committed_value(found, key, value)
        ticket = found
    else:
        ticket = loaded_ticket(session, columns, site=counter.site)
    set_committed_value(ticket, "counter", counter if ticket.counter_id == counter.id else None)
    set_committed_value(ticket, "service", cached_service(session, ticket.service_id))
    return ticket


def _call_next_head(
    session: Session, counter_id: int, day: Any, now: datetime, actor: Actor
) -> dict[str, Any] | None:
    """Choose among the heads of the counter's services and call one: its columns, or None."""
    weights = counter_weights(session, counter_id)
    if not weights:
        return None
    service_ids = sorted(weights)
    params: dict[str, Any] = {f"service_{n}": sid for n, sid in enumerate(service_ids)}
    params.update(day=day, now=now)
    heads = {
        row["service_id"]: row
        for row in session.execute(_heads(len(service_ids)), params).mappings()
    }
    while heads:
        chosen = choose_next(
            [
                Candidate(
                    ticket_id=head["id"],
                    service_id=head["service_id"],
                    is_priority=head["priority_class"] == PriorityClass.PRIORITY,
                    waiting_since=_waiting_since(head, now),
                    weight=weights[head["service_id"]],
                    is_appointment=head["priority_class"] == PriorityClass.APPOINTMENT
                    and head["queued_at"] <= now,
                )
                for head in heads.values()
            ],
            now,
        )
        if chosen is None:
            return None
        row = session.execute(
            _CALL_FIRST,
            {
                "calling_service": chosen.service_id,
                "day": day,
                "now": now,
                "calling_counter": counter_id,
                "calling_agent": actor.user_id,
            },
        ).first()
        if row is not None:
            return dict(row._mapping)
        # Every ticket of that service is being called by other agents right now.
        del heads[chosen.service_id]
    return None


def _waiting_since(head: Any, now: datetime) -> datetime:
    """Since when a head has waited in the order: an early appointment since its check-in."""
    if head["priority_class"] == PriorityClass.APPOINTMENT and head["queued_at"] > now:
        return head["issued_at"]
    return head["queued_at"]


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

    def load() -> dict[int, int]:
        return dict(session.execute(_LINKS, {"counter_id": counter_id}).tuples().all())

    return ports.cached(("counter_weights", counter_id), load)
