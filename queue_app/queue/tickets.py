"""Ticket operations: issue, and every state change after the call.

This module and calling.py are the only writers of ``tickets`` and
``ticket_events`` (:func:`write`, :func:`record`).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from ..models import (
    ACTIVE_STATUSES,
    PRIORITY_RANK,
    EventKind,
    PriorityClass,
    PriorityRule,
    Service,
    Site,
    Ticket,
    TicketEvent,
    TicketSource,
    TicketStatus,
    utcnow,
)
from . import changes, errors, idempotency, turns
from .actors import Actor
from .days import accepts_tickets, end_of_day, service_day
from .estimates import TICKETS, position_and_wait
from .numbering import format_label, new_tracking_code, take_number, typed_code

log = logging.getLogger(__name__)


_INSERT_EVENT = insert(cast(Table, TicketEvent.__table__))

_INSERT_TICKET = insert(TICKETS).returning(TICKETS.c.id)

# The resource kind of the idempotency keys of ticket issues.
TICKET_KIND = "ticket"


class Issued(NamedTuple):
    ticket: Ticket
    # False when an Idempotency-Key replay returned the ticket issued earlier.
    created: bool
    position: int | None
    estimated_wait_minutes: int | None


def record(
    session: Session,
    ticket: Ticket | Any,
    kind: EventKind,
    from_status: TicketStatus | None,
    actor: Actor,
    now: datetime,
    data: dict[str, Any] | None = None,
    *,
    counter_id: int | None = None,
) -> None:
    """Append one event to the ticket's log (invariant 6): the only writer of ``ticket_events``.

    ``ticket``: the ticket as now stored (an ORM object, or a row of its columns).
    ``counter_id`` names the counter where the change happened when the ticket
    no longer has one (a transfer leaves its counter). A plain INSERT, not a
    unit-of-work object: events are never read back or changed in the
    transaction that writes them.
    """
    if ticket.id is None:
        session.flush()
    session.execute(
        _INSERT_EVENT,
        {
            "ticket_id": ticket.id,
            "site_id": ticket.site_id,
            "service_id": ticket.service_id,
            "kind": kind,
            "from_status": from_status,
            "to_status": ticket.status,
            "counter_id": counter_id if counter_id is not None else ticket.counter_id,
            "user_id": actor.user_id,
            "device_id": actor.device_id,
            "at": now,
            "data": data,
        },
    )


_UPDATES: dict[tuple[str, ...], Any] = {}


def write(session: Session, ticket: Ticket, **values: Any) -> None:
    """Change columns of a loaded ticket with one UPDATE, now, without the unit of work.

    The object is left clean with the new values, as after a flush.
    """
    keys = tuple(sorted(values))
    statement = _UPDATES.get(keys)
    if statement is None:
        statement = _UPDATES[keys] = (
            update(TICKETS)
            .where(TICKETS.c.id == bindparam("ticket_id_"))
            .values({key: bindparam(key) for key in keys})
        )
    session.execute(statement, {**values, "ticket_id_": ticket.id})
    for key, value in values.items():
        set_committed_value(ticket, key, value)


def issue_ticket(
    session: Session,
    site: Site,
    service: Service,
    *,
    actor: Actor,
    source: TicketSource,
    priority: bool = False,
    phone: str | None = None,
    idempotency_key: idempotency.Key | None = None,
    enforce_hours: bool = True,
    due_at: datetime | None = None,
    now: datetime | None = None,
) -> Issued:
    """Issue the next numbered ticket of a service; locks the day's number row.

    The people ahead and the estimate count every ticket of the service
    committed before this one's number, in any process (invariant 8): they are
    read after the number is taken. ``due_at``: a checked-in appointment,
    called first from that moment (before it, it waits as an ordinary ticket).
    Queues ``queue_changed`` (and positions when a priority ticket moves others
    back). With ``idempotency_key`` (scoped to the actor, kept until the end of
    the service day), a repeated request returns the first ticket, even after
    closing time; the same key with another service, priority or phone raises
    IdempotencyKeyMismatch. ``site`` and ``service`` may be the per-process
    cache's detached objects: only their columns are read.
    """
    now = now or utcnow()
    if service.site_id != site.id:
        raise errors.NotFound(service=service.code)
    day = service_day(site, now)
    code = new_tracking_code()
    if idempotency_key is not None:
        claimed = idempotency.claim(
            session,
            idempotency.scope_of(actor),
            idempotency_key.value,
            request_fingerprint(idempotency_key, site, service, priority, phone),
            TICKET_KIND,
            expires_at=end_of_day(site, day),
            # The tracking code is drawn before the ticket exists: the key names
            # its ticket from the start, with nothing to write back afterwards.
            resource_ref=code,
            now=now,
        )
        if claimed.replayed:
            return _replay(session, claimed)
    if not service.is_active:
        raise errors.ServiceInactive(service=service.code)
    if due_at is not None:
        priority_class = PriorityClass.APPOINTMENT
    elif priority and service.priority_rule != PriorityRule.NONE:
        priority_class = PriorityClass.PRIORITY
    else:
        # A service with no priority rule serves everyone in order of arrival.
        priority_class = PriorityClass.NORMAL
    if enforce_hours and not accepts_tickets(site, now):
        raise errors.SiteClosed()
    # Kiosks of this process wait for each other here rather than on the number
    # row (turns.py); the turn is given back when the transaction ends.
    turns.take(session, service.id)
    number, issued_at = take_number(session, service.id, day, now)
    columns = {
        "site_id": site.id,
        "service_id": service.id,
        "issued_service_id": service.id,
        "service_day": day,
        "number": number,
        "label": format_label(service.prefix, number),
        "code": code,
        "priority_class": priority_class,
        "priority_rank": PRIORITY_RANK[priority_class],
        "source": source,
        "status": TicketStatus.WAITING,
        "phone": phone,
        "counter_id": None,
        "agent_id": None,
        "device_id": actor.device_id,
        "issued_at": issued_at,
        "queued_at": max(issued_at, due_at) if due_at is not None else issued_at,
        "first_called_at": None,
        "called_at": None,
        "started_at": None,
        "finished_at": None,
        "recall_count": 0,
        "transfer_count": 0,
    }
    columns["id"] = session.execute(_INSERT_TICKET, columns).scalar_one()
    ticket = loaded_ticket(session, columns, site=site, service=service)
    # What it is told, read as for any waiting ticket, after its number was taken.
    ahead, wait = position_and_wait(session, ticket, now=now)
    # The estimate given at issue: the dashboard compares it with the real wait.
    record(
        session,
        ticket,
        EventKind.ISSUED,
        None,
        actor,
        issued_at,
        {"number": number, "estimate": wait},
    )
    log.debug("issued ticket %s (%s) at %s", ticket.label, ticket.id, site.slug)
    changes.queue_changed(session, site)
    if priority_class != PriorityClass.NORMAL:
        # A ticket that goes before others moves them back: their pages must know.
        changes.positions_changed(session, [service.id])
    return Issued(ticket, True, ahead, wait)


def request_fingerprint(
    key: idempotency.Key, site: Site, service: Service, priority: bool, phone: str | None
) -> str:
    """What an Idempotency-Key of a ticket request stands for (idempotency.fingerprint)."""
    return idempotency.fingerprint(
        key.secret, site=site.id, service=service.id, priority=priority, phone=phone
    )


def replayed_ticket(
    session: Session,
    site: Site,
    service: Service,
    *,
    actor: Actor,
    idempotency_key: idempotency.Key,
    ticket: Ticket,
    now: datetime | None = None,
) -> Issued | None:
    """``ticket`` again when ``idempotency_key`` is the actor's key that issued it, else None.

    For creates that issue a ticket on the way (an appointment's check-in): a
    retry finds the ticket its key made. Raises IdempotencyKeyMismatch when the
    key stands for another request. Leaves a fresh claim behind when the key
    is unknown: the caller refuses the request and rolls back.
    """
    now = now or utcnow()
    claimed = idempotency.claim(
        session,
        idempotency.scope_of(actor),
        idempotency_key.value,
        # What the first request stood for (an appointment's ticket carries its phone).
        request_fingerprint(idempotency_key, site, service, False, ticket.phone),
        TICKET_KIND,
        expires_at=end_of_day(site, service_day(site, now)),
        now=now,
    )
    if claimed.replayed and claimed.resource_ref == ticket.code:
        return Issued(ticket, False, *position_and_wait(session, ticket))
    return None


def loaded_ticket(
    session: Session,
    columns: dict[str, Any],
    *,
    site: Site | None = None,
    service: Service | None = None,
    counter: Any = None,
) -> Ticket:
    """The session's object for a ticket of these column values, as if loaded (no statement).

    ``columns`` holds every column, as a statement read or wrote them. The
    relationships given (``site``, ``service``, ``counter``) are set as loaded.
    """
    ticket = Ticket(**columns)
    make_transient_to_detached(ticket)
    session.add(ticket)
    for name, value in (("site", site), ("service", service), ("counter", counter)):
        if value is not None:
            set_committed_value(ticket, name, value)
    return ticket


def _replay(session: Session, claimed: idempotency.Claim) -> Issued:
    ticket = None
    if claimed.resource_ref is not None:
        ticket = session.scalar(select(Ticket).where(Ticket.code == claimed.resource_ref))
    if ticket is None:
        # A key is committed with its ticket: this is a key without one.
        raise errors.NotFound(ticket=claimed.resource_ref)
    return Issued(ticket, False, *position_and_wait(session, ticket))


def get_ticket(session: Session, ticket_id: int, *, lock: bool = False) -> Ticket:
    """Load a ticket, row-locked for a state change when ``lock``; NotFound otherwise."""
    stmt = select(Ticket).where(Ticket.id == ticket_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    ticket = session.scalar(stmt)
    if ticket is None:
        raise errors.NotFound(ticket=ticket_id)
    return ticket


def get_ticket_by_code(session: Session, code: str) -> Ticket:
    """Load a ticket by its public tracking code (as typed: case, spaces and dashes ignored)."""
    ticket = session.scalar(select(Ticket).where(Ticket.code == typed_code(code)))
    if ticket is None:
        raise errors.NotFound(code=code)
    return ticket


def _require(ticket: Ticket, allowed: tuple[TicketStatus, ...], action: str) -> None:
    if ticket.status not in allowed:
        raise errors.InvalidTransition(
            status=ticket.status.value,
            action=action,
            allowed_from=[status.value for status in allowed],
        )


def recall(
    session: Session, ticket: Ticket, *, actor: Actor, now: datetime | None = None
) -> Ticket:
    """Announce a called ticket again; queues ``ticket_called`` with recall=true."""
    now = now or utcnow()
    _require(ticket, (TicketStatus.CALLED,), "recall")
    if ticket.counter is None:  # a called ticket keeps its counter; guard old rows
        raise errors.InvalidTransition(action="recall", reason="no_counter")
    ticket.recall_count += 1
    ticket.called_at = now
    record(
        session,
        ticket,
        EventKind.RECALLED,
        TicketStatus.CALLED,
        actor,
        now,
        {"recall": ticket.recall_count},
    )
    changes.ticket_called(session, ticket, ticket.counter, recall=True)
    changes.ticket_changed(session, ticket)
    return ticket


def start(session: Session, ticket: Ticket, *, actor: Actor, now: datetime | None = None) -> Ticket:
    """The citizen reached the counter: called → serving."""
    now = now or utcnow()
    _require(ticket, (TicketStatus.CALLED,), "start")
    ticket.status = TicketStatus.SERVING
    ticket.started_at = now
    record(session, ticket, EventKind.STARTED, TicketStatus.CALLED, actor, now)
    changes.ticket_changed(session, ticket)
    return ticket


def finish(
    session: Session, ticket: Ticket, *, actor: Actor, now: datetime | None = None
) -> Ticket:
    """Service is over: called or serving → done.

    Nothing is learned here: the service times of the estimates are learned from
    the event log by a job (quality/learning.py), so no row is written by every
    finish of a service.
    """
    now = now or utcnow()
    _require(ticket, ACTIVE_STATUSES, "finish")
    previous = ticket.status
    write(session, ticket, status=TicketStatus.DONE, finished_at=now)
    record(session, ticket, EventKind.FINISHED, previous, actor, now)
    changes.ticket_changed(session, ticket)
    changes.ticket_finished(session, ticket)
    return ticket


def mark_no_show(
    session: Session, ticket: Ticket, *, actor: Actor, now: datetime | None = None
) -> Ticket:
    """The citizen did not come to the counter: called → no_show."""
    now = now or utcnow()
    _require(ticket, (TicketStatus.CALLED,), "no_show")
    ticket.status = TicketStatus.NO_SHOW
    ticket.finished_at = now
    record(session, ticket, EventKind.NO_SHOW, TicketStatus.CALLED, actor, now)
    changes.ticket_changed(session, ticket)
    return ticket


def cancel(
    session: Session, ticket: Ticket, *, actor: Actor, now: datetime | None = None
) -> Ticket:
    """The citizen gave up: waiting or called → cancelled; the queue moves up."""
    now = now or utcnow()
    _require(ticket, (TicketStatus.WAITING, TicketStatus.CALLED), "cancel")
    previous = ticket.status
    ticket.status = TicketStatus.CANCELLED
    ticket.finished_at = now
    record(session, ticket, EventKind.CANCELLED, previous, actor, now)
    changes.ticket_changed(session, ticket)
    if previous == TicketStatus.WAITING:
        changes.queue_changed(session, ticket.site)
        changes.positions_changed(session, [ticket.service_id])
    return ticket


def transfer(
    session: Session,
    ticket: Ticket,
    service: Service,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> Ticket:
    """Send a ticket to another service's queue: same label, waiting again.

    It keeps its arrival time, so a citizen who already waited is not sent to
    the back of the new queue.
    """
    now = now or utcnow()
    _require(ticket, (TicketStatus.WAITING, *ACTIVE_STATUSES), "transfer")
    if service.site_id != ticket.site_id:
        raise errors.NotFound(service=service.code)
    if service.id == ticket.service_id:
        raise errors.InvalidTransition(
            errors.InvalidTransition.default_message, reason="same_service"
        )
    if not service.is_active:
        raise errors.ServiceInactive(service=service.code)
    previous_status, previous_service = ticket.status, ticket.service
    from_counter = ticket.counter_id
    ticket.status = TicketStatus.WAITING
    ticket.service = service
    ticket.service_id = service.id
    ticket.counter = None
    ticket.counter_id = None
    ticket.agent_id = None
    ticket.called_at = None
    ticket.started_at = None
    ticket.transfer_count += 1
    session.flush()
    record(
        session,
        ticket,
        EventKind.TRANSFERRED,
        previous_status,
        actor,
        now,
        {"from_service": previous_service.code, "to_service": service.code},
        counter_id=from_counter,
    )
    changes.counter_changed(session, from_counter)
    changes.queue_changed(session, ticket.site)
    changes.positions_changed(session, [previous_service.id, service.id])
    return ticket


def close_waiting(
    session: Session, ticket: Ticket, *, actor: Actor, now: datetime, reason: str
) -> None:
    """Close a ticket nobody will call any more (day over): waiting → cancelled."""
    _require(ticket, (TicketStatus.WAITING,), "close")
    ticket.status = TicketStatus.CANCELLED
    ticket.finished_at = now
    record(
        session, ticket, EventKind.DAY_CLOSED, TicketStatus.WAITING, actor, now, {"reason": reason}
    )
    changes.ticket_changed(session, ticket)
