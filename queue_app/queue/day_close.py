"""Closing a site's day: tickets still waiting after closing time are closed."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    Counter,
    CounterState,
    Site,
    Ticket,
    TicketStatus,
    utcnow,
)
from . import changes
from .actors import SYSTEM
from .calling import current_ticket
from .days import closing_time, service_day
from .tickets import close_waiting

log = logging.getLogger(__name__)


def close_day(
    session: Session, site: Site, *, grace: timedelta, now: datetime | None = None
) -> int:
    """Close waiting tickets of every day of the site whose end (closing time + grace) passed.

    Counters left open from before that end are closed too (not ones opened
    after it: an agent may serve late), row-locked so that an agent taking one
    back at that instant keeps it. Idempotent; returns the tickets closed.
    Queues ``queue_changed`` when something changed.
    """
    now = now or utcnow()
    days = session.scalars(
        select(Ticket.service_day)
        .where(Ticket.site_id == site.id, Ticket.status == TicketStatus.WAITING)
        .distinct()
    ).all()
    closed = 0
    for day in sorted(days):
        if now < closing_time(site, day) + grace:
            continue
        tickets = session.scalars(
            select(Ticket)
            .where(
                Ticket.site_id == site.id,
                Ticket.service_day == day,
                Ticket.status == TicketStatus.WAITING,
            )
            .with_for_update(skip_locked=True)
        ).all()
        for ticket in tickets:
            close_waiting(session, ticket, actor=SYSTEM, now=now, reason="day_closed")
        closed += len(tickets)

    released = 0
    for counter in _due_counters(session, site, grace, now):
        if current_ticket(session, counter) is not None:
            continue
        counter.state = CounterState.CLOSED
        counter.agent_id = None
        counter.pause_reason = None
        counter.state_changed_at = now
        released += 1
    if closed:
        changes.queue_changed(session, site)
        log.info("day close at %s: %d waiting ticket(s) closed", site.slug, closed)
    if released:
        log.info("day close at %s: %d counter(s) closed", site.slug, released)
    return closed


def _due_counters(session: Session, site: Site, grace: timedelta, now: datetime) -> list[Counter]:
    """The site's counters left open past their day's end, row-locked.

    Read first without locks (usually none is due), then the due ones locked
    and read again: an agent taking a counter back at that instant is either
    seen with its new state, or skipped (SKIP LOCKED) until the next run, a
    minute later. Never waiting on a counter also means never deadlocking with
    an agent who holds one counter and releases another.
    """
    open_counters = session.execute(
        select(Counter.id, Counter.state_changed_at).where(
            Counter.site_id == site.id, Counter.state != CounterState.CLOSED
        )
    ).all()
    due = [
        counter_id
        for counter_id, changed_at in open_counters
        if now >= counter_day_end(site, changed_at, grace)
    ]
    if not due:
        return []
    locked = session.scalars(
        select(Counter)
        .where(Counter.id.in_(due), Counter.state != CounterState.CLOSED)
        .order_by(Counter.id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    return [c for c in locked if now >= counter_day_end(site, c.state_changed_at, grace)]


def counter_day_end(site: Site, changed_at: datetime, grace: timedelta) -> datetime:
    """When a counter opened at ``changed_at`` is closed by the day close.

    The end of that site-local day; a counter opened after its day ended (an
    agent serving late) lasts until the next day's end.
    """
    day = service_day(site, changed_at)
    end = closing_time(site, day) + grace
    if changed_at >= end:
        end = closing_time(site, day + timedelta(days=1)) + grace
    return end
