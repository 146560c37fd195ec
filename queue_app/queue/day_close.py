"""Closing a site's day: tickets still waiting after closing time are closed."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Counter, CounterState, Site, Ticket, TicketStatus, utcnow
from .actors import SYSTEM
from .calling import current_ticket
from .days import closing_time, service_day
from .publish import publish_queue_changed
from .tickets import close_waiting

log = logging.getLogger(__name__)


def close_day(
    session: Session, site: Site, *, grace: timedelta, now: datetime | None = None
) -> int:
    """Close waiting tickets of every day of the site whose end (closing time + grace) passed.

    Counters left open from before that end are closed too (not ones opened
    after it: an agent may serve late). Idempotent; returns the tickets closed.
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
    counters = session.scalars(
        select(Counter).where(Counter.site_id == site.id, Counter.state != CounterState.CLOSED)
    ).all()
    for counter in counters:
        if now < counter_day_end(site, counter.state_changed_at, grace):
            continue
        if current_ticket(session, counter) is not None:
            continue
        counter.state = CounterState.CLOSED
        counter.agent_id = None
        counter.pause_reason = None
        counter.state_changed_at = now
        released += 1
    if closed:
        publish_queue_changed(session, site)
        log.info("day close at %s: %d waiting ticket(s) closed", site.slug, closed)
    if released:
        log.info("day close at %s: %d counter(s) closed", site.slug, released)
    return closed


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
