"""Public payloads of the realtime events, built from what the domain recorded.

Domain operations record facts (queue/changes.py); :func:`translate`, hooked
before every commit (:func:`install`), turns them into moments queued for
emission after commit (``ticket_called``, ``feedback_request``), state keys for
the publisher (``queue_changed``, ``ticket_updated``, ``counter_changed``) and
rooms to disconnect. :func:`build_state` builds the state behind those keys
on the publisher's thread.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import event, select
from sqlalchemy.orm import Session, joinedload

from ..models import Counter, Service, Site, Ticket, TicketStatus, utcnow
from ..queue import changes
from ..queue.days import service_day
from ..queue.estimates import (
    open_counters_serving,
    position_and_wait,
    queue_order,
    wait_minutes,
    waiting_counts,
)
from ..queue.service_times import expected_service_seconds
from . import events

# Tracking pages beyond this place get their position on their next change only.
MAX_POSITION_UPDATES = 300

# What the publisher pushes (events.StateKey kinds).
QUEUE = "queue"  # a site's waiting counts: queue_changed
POSITIONS = "positions"  # a service's waiting tickets: ticket_updated to each
TICKET = "ticket"  # one ticket's state: ticket_updated
COUNTER = "counter"  # what a counter is serving: counter_changed to the screen above it

COUNTER_CHANGED = "counter_changed"


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as every payload and API answer writes times."""
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")


def track_url(code: str) -> str:
    """The public page where a citizen follows ticket ``code`` (printed, sent by SMS)."""
    return f"{current_app.config['PUBLIC_URL']}/t/{code}"


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


def update_payload(
    label: str, status: TicketStatus, position: int | None, wait: int | None, counter: str | None
) -> dict[str, Any]:
    """What a tracking page shows for a ticket (``ticket_updated``)."""
    return {
        "label": label,
        "status": status.value,
        "position": position,
        "estimated_wait_minutes": wait,
        "counter": counter,
    }


def ticket_update_payload(ticket: Ticket, position: int | None, wait: int | None) -> dict[str, Any]:
    """:func:`update_payload` of a loaded ticket."""
    counter = ticket.counter.name if ticket.counter is not None else None
    return update_payload(ticket.label, ticket.status, position, wait, counter)


def translate(session: Session) -> None:
    """Turn the facts the domain recorded (queue/changes.py) into events and state keys."""
    for fact in changes.take(session):
        if isinstance(fact, changes.QueueChanged):
            events.mark_changed(session, (QUEUE, fact.site_id))
        elif isinstance(fact, changes.PositionsChanged):
            events.mark_changed(session, (POSITIONS, fact.service_id))
        elif isinstance(fact, changes.TicketChanged):
            events.mark_changed(session, (TICKET, fact.ticket_id))
        elif isinstance(fact, changes.CounterChanged):
            events.mark_changed(session, (COUNTER, fact.counter_id))
        elif isinstance(fact, changes.TicketCalled):
            _queue_call(session, fact.ticket, fact.counter, recall=fact.recall)
        elif isinstance(fact, changes.TicketFinished):
            _queue_finished(session, fact.ticket)
        elif isinstance(fact, changes.ConnectionsEnded):
            if fact.user_id is not None:
                events.drop_connections(session, events.user_room(fact.user_id))
            if fact.device_id is not None:
                events.drop_connections(session, events.device_room(fact.device_id))


def _before_commit(session: Session) -> None:
    translate(session)


def _after_rollback(session: Session) -> None:
    changes.forget(session)


def install(session_target: Any) -> None:
    """Turn the domain's facts into events at every commit of this session factory (once)."""
    if not event.contains(session_target, "before_commit", _before_commit):
        event.listen(session_target, "before_commit", _before_commit)
        event.listen(session_target, "after_rollback", _after_rollback)


def _queue_call(session: Session, ticket: Ticket, counter: Counter, *, recall: bool) -> None:
    """Queue ``ticket_called`` for the site's displays and agents (a moment)."""
    from .screens import filtered_displays

    payload = call_payload(ticket, counter, ticket.service, recall=recall)
    events.queue(session, events.TICKET_CALLED, events.site_room(ticket.site.slug), payload)
    events.queue(session, events.TICKET_CALLED, events.agents_room(ticket.site.slug), payload)
    events.queue(session, events.TICKET_CALLED, events.counter_room(counter.id), payload)
    # Displays of a second waiting room hear only the calls of their services.
    for device_id, codes in filtered_displays(session, ticket.site_id).items():
        if payload["service"] in codes:
            events.queue(session, events.TICKET_CALLED, events.display_room(device_id), payload)


def build_state(keys: set[events.StateKey]) -> list[events.PendingEvent]:
    """The events describing the committed state behind ``keys`` (publisher thread)."""
    from ..extensions import db
    from ..infra.database import read_only

    with read_only():
        session = db.session()
        try:
            versions = _Versions(session)
            built: list[events.PendingEvent] = []
            for kind, builder in ((QUEUE, _queue_state), (POSITIONS, _positions)):
                for key_id in sorted(key_id for key_kind, key_id in keys if key_kind == kind):
                    built.extend(builder(session, key_id, versions))
            built.extend(
                _tickets(session, sorted(i for kind, i in keys if kind == TICKET), versions)
            )
            built.extend(
                _counters(session, sorted(i for kind, i in keys if kind == COUNTER), versions)
            )
            return built
        finally:
            session.rollback()


class _Versions:
    """Each site's version, read once per publication before the state it orders."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.known: dict[int, int] = {}

    def of(self, site_id: int) -> int:
        from .versions import site_version

        if site_id not in self.known:
            self.known[site_id] = site_version(self.session, site_id)
        return self.known[site_id]


def _queue_state(session: Session, site_id: int, versions: _Versions) -> list[events.PendingEvent]:
    from .screens import filtered_displays

    site = session.get(Site, site_id)
    if site is None:
        return []
    version = versions.of(site.id)
    waiting = waiting_counts(session, site, service_day(site, utcnow()))
    payload = {"waiting": waiting, "version": version}
    built = [
        events.PendingEvent(events.QUEUE_CHANGED, events.site_room(site.slug), payload),
        events.PendingEvent(events.QUEUE_CHANGED, events.agents_room(site.slug), payload),
    ]
    for device_id, codes in filtered_displays(session, site.id).items():
        only = {code: n for code, n in waiting.items() if code in codes}
        built.append(
            events.PendingEvent(
                events.QUEUE_CHANGED,
                events.display_room(device_id),
                {"waiting": only, "version": version},
            )
        )
    return built


def _positions(session: Session, service_id: int, versions: _Versions) -> list[events.PendingEvent]:
    service = session.get(Service, service_id)
    if service is None:
        return []
    version = versions.of(service.site_id)
    now = utcnow()
    rows = session.execute(
        select(Ticket.code, Ticket.label)
        .where(
            Ticket.service_id == service_id,
            Ticket.service_day == service_day(service.site, now),
            Ticket.status == TicketStatus.WAITING,
        )
        .order_by(*queue_order(now=now))
        .limit(MAX_POSITION_UPDATES)
    ).all()
    if not rows:
        return []
    counters = open_counters_serving(session, service_id)
    seconds = expected_service_seconds(session, service, now)
    return [
        events.PendingEvent(
            events.TICKET_UPDATED,
            events.ticket_room(code),
            {
                **update_payload(
                    label,
                    TicketStatus.WAITING,
                    position,
                    wait_minutes(position, seconds, counters),
                    None,
                ),
                "version": version,
            },
        )
        for position, (code, label) in enumerate(rows)
    ]


def _tickets(
    session: Session, ticket_ids: list[int], versions: _Versions
) -> list[events.PendingEvent]:
    if not ticket_ids:
        return []
    tickets = session.scalars(
        select(Ticket)
        .where(Ticket.id.in_(ticket_ids))
        .options(joinedload(Ticket.counter), joinedload(Ticket.service))
    ).all()
    for site_id in sorted({ticket.site_id for ticket in tickets}):
        versions.of(site_id)
    return [
        events.PendingEvent(
            events.TICKET_UPDATED,
            events.ticket_room(ticket.code),
            {
                **ticket_update_payload(ticket, *position_and_wait(session, ticket)),
                "version": versions.of(ticket.site_id),
            },
        )
        for ticket in tickets
    ]


def _counters(
    session: Session, counter_ids: list[int], versions: _Versions
) -> list[events.PendingEvent]:
    from .screens import counter_state

    built = []
    for counter_id in counter_ids:
        counter = session.get(Counter, counter_id)
        if counter is None:
            continue
        payload = counter_state(session, counter, version=versions.of(counter.site_id))
        built.append(events.PendingEvent(COUNTER_CHANGED, events.counter_room(counter.id), payload))
    return built


def feedback_request_payload(ticket: Ticket) -> dict[str, Any]:
    """What a counter's tablet needs to ask for a rating of a served ticket; public fields only."""
    counter = ticket.counter
    return {
        "ticket_id": ticket.id,
        "label": ticket.label,
        "service": ticket.service.code,
        "service_name": ticket.service.name,
        "counter": counter.name if counter is not None else None,
        "counter_id": ticket.counter_id,
        "finished_at": iso(ticket.finished_at),
    }


def _queue_finished(session: Session, ticket: Ticket) -> None:
    """Queue ``feedback_request`` for the tablet of the counter that served the ticket."""
    if ticket.counter_id is None:
        return
    events.queue(
        session,
        events.FEEDBACK_REQUEST,
        events.tablet_room(ticket.counter_id),
        feedback_request_payload(ticket),
    )
