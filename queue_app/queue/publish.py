"""Public payloads of the realtime events, queued inside the transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import events
from ..models import Counter, Service, Site, Ticket, TicketStatus
from .estimates import (
    estimate_wait,
    open_counters_serving,
    queue_order,
    wait_minutes,
    waiting_counts,
)

# Tracking pages beyond this place get their position on their next change only.
MAX_POSITION_UPDATES = 300


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as every payload and API answer writes times."""
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")


def call_payload(
    ticket: Ticket, counter: Counter, service: Service, *, recall: bool
) -> dict[str, Any]:
    """What a display shows and speaks for a call; public fields only."""
    return {
        "label": ticket.label,
        "counter": counter.name,
        "counter_id": counter.id,
        "service": service.code,
        "service_name": service.name,
        "called_at": iso(ticket.called_at),
        "recall": recall,
    }


def ticket_update_payload(ticket: Ticket, position: int | None, wait: int | None) -> dict[str, Any]:
    """What a tracking page shows for a ticket."""
    return {
        "label": ticket.label,
        "status": ticket.status.value,
        "position": position,
        "estimated_wait_minutes": wait,
        "counter": ticket.counter.name if ticket.counter is not None else None,
    }


def publish_queue_changed(session: Session, site: Site) -> None:
    """Have ``queue_changed`` pushed to the site's displays and agents after commit."""
    events.mark_queue_changed(session, site.id)


def queue_state(site_id: int) -> list[events.PendingEvent]:
    """The ``queue_changed`` events of a site, read from committed data (app context)."""
    from ..database import read_only
    from ..extensions import db
    from ..models import utcnow
    from .days import service_day

    with read_only():
        session = db.session()
        site = session.get(Site, site_id)
        if site is None:
            return []
        payload = {"waiting": waiting_counts(session, site, service_day(site, utcnow()))}
        session.rollback()
    return [
        events.PendingEvent(events.QUEUE_CHANGED, events.site_room(site.slug), payload),
        events.PendingEvent(events.QUEUE_CHANGED, events.agents_room(site.slug), payload),
    ]


def publish_call(session: Session, ticket: Ticket, counter: Counter, *, recall: bool) -> None:
    """Queue ``ticket_called`` for the site's displays and agents."""
    payload = call_payload(ticket, counter, ticket.service, recall=recall)
    events.queue(session, events.TICKET_CALLED, events.site_room(ticket.site.slug), payload)
    events.queue(session, events.TICKET_CALLED, events.agents_room(ticket.site.slug), payload)


def publish_ticket(session: Session, ticket: Ticket, position: int | None = None) -> None:
    """Queue ``ticket_updated`` for the pages tracking one ticket."""
    wait = estimate_wait(session, ticket.service, position) if position is not None else None
    events.queue(
        session,
        events.TICKET_UPDATED,
        events.ticket_room(ticket.code),
        ticket_update_payload(ticket, position, wait),
        coalesce=True,
    )


def publish_positions(session: Session, service_ids: Iterable[int], day: date) -> None:
    """Queue ``ticket_updated`` for every waiting ticket of services whose order changed."""
    for service_id in sorted(set(service_ids)):
        service = session.get(Service, service_id)
        if service is None:
            continue
        rows = session.execute(
            select(Ticket.code, Ticket.label)
            .where(
                Ticket.service_id == service_id,
                Ticket.service_day == day,
                Ticket.status == TicketStatus.WAITING,
            )
            .order_by(*queue_order())
            .limit(MAX_POSITION_UPDATES)
        ).all()
        if not rows:
            continue
        counters = open_counters_serving(session, service_id)
        for position, (code, label) in enumerate(rows):
            events.queue(
                session,
                events.TICKET_UPDATED,
                events.ticket_room(code),
                {
                    "label": label,
                    "status": TicketStatus.WAITING.value,
                    "position": position,
                    "estimated_wait_minutes": wait_minutes(
                        position, service.avg_service_seconds, counters
                    ),
                    "counter": None,
                },
                coalesce=True,
            )
