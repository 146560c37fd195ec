"""Calling the next ticket at a counter (invariant 2: one ticket, one counter)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..models import (
    ACTIVE_STATUSES,
    Counter,
    CounterState,
    EventKind,
    PriorityClass,
    Ticket,
    TicketStatus,
    utcnow,
)
from . import errors
from .actors import Actor
from .days import service_day
from .estimates import queue_order
from .policy import Candidate, choose_next
from .publish import publish_call, publish_positions, publish_queue_changed, publish_ticket
from .tickets import finish, record

log = logging.getLogger(__name__)


def lock_counter(session: Session, counter_id: int) -> Counter:
    """Load a counter row-locked, so one counter's actions run one after the other."""
    counter = session.scalar(
        select(Counter)
        .where(Counter.id == counter_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
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
    session: Session, counter: Counter, *, actor: Actor, now: datetime | None = None
) -> Ticket | None:
    """Call the next ticket for a counter; None when nothing waits for its services.

    The counter's ticket in progress is finished first. Each service's queue head
    is row-locked with SKIP LOCKED on PostgreSQL, so agents calling at the same
    instant take different tickets; SQLite serialises write transactions.
    Queues ``ticket_called``, ``queue_changed`` and position updates.
    """
    now = now or utcnow()
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
    for ticket in in_progress:
        finish(session, ticket, actor=actor, now=now)

    candidates: list[Candidate] = []
    heads: dict[int, Ticket] = {}
    for link in sorted(counter.service_links, key=lambda link: link.service_id):
        if not link.service.is_active:
            continue
        head = session.scalar(
            select(Ticket)
            .where(
                Ticket.service_id == link.service_id,
                Ticket.service_day == day,
                Ticket.status == TicketStatus.WAITING,
                # A checked-in appointment waits for its slot (queued_at) to be called.
                or_(Ticket.priority_class != PriorityClass.APPOINTMENT, Ticket.queued_at <= now),
            )
            .order_by(*queue_order())
            .limit(1)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        if head is None:
            continue
        heads[head.id] = head
        candidates.append(
            Candidate(
                ticket_id=head.id,
                service_id=head.service_id,
                is_priority=head.priority_class == PriorityClass.PRIORITY,
                waiting_since=head.queued_at,
                weight=link.weight,
                is_appointment=head.priority_class == PriorityClass.APPOINTMENT,
            )
        )

    chosen = choose_next(candidates, now)
    if chosen is None:
        if in_progress:
            publish_queue_changed(session, site)
        return None

    ticket = heads[chosen.ticket_id]
    ticket.status = TicketStatus.CALLED
    ticket.counter = counter
    ticket.counter_id = counter.id
    ticket.agent_id = actor.user_id
    ticket.called_at = now
    if ticket.first_called_at is None:
        ticket.first_called_at = now
    record(session, ticket, EventKind.CALLED, TicketStatus.WAITING, actor, now)
    publish_call(session, ticket, counter, recall=False)
    publish_ticket(session, ticket)
    publish_queue_changed(session, site)
    publish_positions(session, [ticket.service_id])
    log.debug("counter %s called %s", counter.id, ticket.label)
    return ticket
