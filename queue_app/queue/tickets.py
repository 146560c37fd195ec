"""Ticket operations: issue, and every state change after the call."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
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
from ..realtime import events
from . import errors, idempotency, turns
from .actors import Actor
from .days import accepts_tickets, end_of_day, service_day
from .estimates import (
    ahead_of_newcomer,
    learn_service_duration,
    learnable_seconds,
    local_hour_of,
    position_and_minutes,
    position_and_wait,
)
from .numbering import (
    INSERT_ISSUED_EVENT_SQLITE,
    INSERT_TICKET_SQLITE,
    ISSUE_POSTGRESQL,
    NEXT_NUMBER_SQLITE,
    format_label,
    new_tracking_code,
)
from .publish import (
    POSITIONS,
    QUEUE,
    publish_call,
    publish_counter,
    publish_finished,
    publish_positions,
    publish_queue_changed,
    publish_ticket,
)
from .rawsql import Raw, bind_date, bind_datetime

log = logging.getLogger(__name__)


_INSERT_EVENT = insert(cast(Table, TicketEvent.__table__))
_INSERT_TICKET = insert(Ticket).returning(Ticket)

# The resource kind of the idempotency keys of ticket issues.
TICKET_KIND = "ticket"


class Issued(NamedTuple):
    ticket: Ticket
    # False when an Idempotency-Key replay returned the ticket issued earlier.
    created: bool
    position: int | None
    estimated_wait_minutes: int | None
    # The ticket's print job spooled by this issue (a printing kiosk), else None.
    print_job: Any = None


def record(
    session: Session,
    ticket: Ticket,
    kind: EventKind,
    from_status: TicketStatus | None,
    actor: Actor,
    now: datetime,
    data: dict[str, Any] | None = None,
    *,
    counter_id: int | None = None,
) -> None:
    """Append one event to the ticket's log (invariant 6).

    ``counter_id`` names the counter where the change happened when the ticket
    no longer has one (a transfer leaves its counter).

    A plain INSERT, not a unit-of-work object: events are never read back or
    changed in the transaction that writes them, and this runs on every call.
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


_TICKETS = cast(Table, Ticket.__table__)
_UPDATES: dict[tuple[str, ...], Any] = {}


def write(session: Session, ticket: Ticket, **values: Any) -> None:
    """Change columns of a loaded ticket with one UPDATE, now, without the unit of work.

    The object is left clean with the new values, as after a flush. Hot paths
    (call next, finish) change a ticket this way: a flush of the object would
    cost several times the statement itself.
    """
    keys = tuple(sorted(values))
    statement = _UPDATES.get(keys)
    if statement is None:
        statement = _UPDATES[keys] = (
            update(_TICKETS)
            .where(_TICKETS.c.id == bindparam("ticket_id_"))
            .values({key: bindparam(key) for key in keys})
        )
    session.execute(statement, {**values, "ticket_id_": ticket.id})
    for key, value in values.items():
        set_committed_value(ticket, key, value)


class NewTicket(NamedTuple):
    """A ticket just issued, as written: what its answer needs, without an ORM object."""

    id: int
    number: int
    label: str
    code: str
    site_id: int
    service_id: int
    service_day: date
    priority_class: PriorityClass
    priority_rank: int
    source: TicketSource
    phone: str | None
    device_id: int | None
    issued_at: datetime


class _Admitted(NamedTuple):
    priority: bool
    code: str
    day: date


def _admit(
    raw: Raw,
    site: Site,
    service: Service,
    actor: Actor,
    priority: bool,
    phone: str | None,
    idempotency_key: str | None,
    enforce_hours: bool,
    now: datetime,
) -> _Admitted | idempotency.Claim:
    """Whether the request may take a number (raises why not), or the claim it replays."""
    if service.site_id != site.id:
        raise errors.NotFound(service=service.code)
    day = service_day(site, now)
    code = new_tracking_code()
    if idempotency_key:
        claimed = idempotency.claim(
            raw,
            idempotency.scope_of(actor),
            idempotency_key,
            request_fingerprint(site, service, priority, phone),
            TICKET_KIND,
            expires_at=end_of_day(site, day),
            # The tracking code is drawn before the ticket exists: the key names
            # its ticket from the start, with nothing to write back afterwards.
            resource_ref=code,
            now=now,
        )
        if claimed.replayed:
            return claimed
    if not service.is_active:
        raise errors.ServiceInactive(service=service.code)
    if priority and service.priority_rule == PriorityRule.NONE:
        # This service serves everyone in order of arrival.
        priority = False
    if enforce_hours and not accepts_tickets(site, now):
        raise errors.SiteClosed()
    return _Admitted(priority, code, day)


def issue_ticket(
    session: Session,
    site: Site,
    service: Service,
    *,
    actor: Actor,
    source: TicketSource,
    priority: bool = False,
    phone: str | None = None,
    idempotency_key: str | None = None,
    enforce_hours: bool = True,
    now: datetime | None = None,
) -> Issued:
    """Issue the next numbered ticket of a service; locks the day's sequence row.

    Queues ``queue_changed`` (and positions when a priority ticket moves others
    back). With ``idempotency_key`` (scoped to the actor, kept until the end of
    the service day), a repeated request returns the first ticket, even after
    closing time; the same key with another service, priority or phone raises
    IdempotencyKeyMismatch. The key costs one statement (idempotency.py).
    """
    now = now or utcnow()
    issued = _admit_and_issue(
        session, site, service, actor, source, priority, phone, idempotency_key, enforce_hours, now
    )
    if isinstance(issued, idempotency.Claim):
        return _replay(session, issued)
    new, position, wait = issued
    ticket = _loaded_ticket(session, new)
    job = None
    if actor.device is not None:
        # A kiosk with a printer: the print job is part of the ticket's transaction.
        from ..printing.spool import spool_ticket

        job = spool_ticket(session, ticket, actor.device, position, wait, now=now)
    return Issued(ticket, True, position, wait, job)


def issue_new(
    session: Session,
    site: Site,
    service: Service,
    *,
    actor: Actor,
    source: TicketSource,
    priority: bool = False,
    idempotency_key: str | None = None,
    enforce_hours: bool = True,
    now: datetime | None = None,
) -> tuple[NewTicket, int, int] | None:
    """:func:`issue_ticket` for the issue endpoint's hot path: no ORM object made.

    For a sender that does not print (nothing to spool) and without a phone.
    ``site`` and ``service`` may be the cache's detached objects (only their
    columns are read). None when ``idempotency_key`` replays an earlier
    request: answer it with :func:`issue_ticket` (the transaction holds nothing).
    """
    issued = _admit_and_issue(
        session,
        site,
        service,
        actor,
        source,
        priority,
        None,
        idempotency_key,
        enforce_hours,
        now or utcnow(),
        # Nothing else to write: on PostgreSQL the issue is then one statement, alone.
        alone=idempotency_key is None,
    )
    return None if isinstance(issued, idempotency.Claim) else issued


def _admit_and_issue(
    session: Session,
    site: Site,
    service: Service,
    actor: Actor,
    source: TicketSource,
    priority: bool,
    phone: str | None,
    idempotency_key: str | None,
    enforce_hours: bool,
    now: datetime,
    *,
    alone: bool = False,
) -> tuple[NewTicket, int, int] | idempotency.Claim:
    """The ticket written and its pushes queued, or the claim an Idempotency-Key replays.

    ``alone``: the caller writes nothing else in this transaction: on PostgreSQL
    the ticket is then committed by its own statement (rawsql.Raw); the caller
    still commits the session, which sends its pushes.
    """
    raw = Raw(session, alone=alone)
    try:
        admitted = _admit(
            raw, site, service, actor, priority, phone, idempotency_key, enforce_hours, now
        )
        if isinstance(admitted, idempotency.Claim):
            return admitted
        # Kiosks of this process wait for each other here rather than on the
        # number row (turns.py): alone, until the statement has returned, else
        # until the transaction ends.
        turn = turns.take(session, service.id, until_end=not alone)
        try:
            issued = _issue(raw, site, service, actor, source, phone, admitted, now)
        finally:
            if alone:
                turn.release()
    finally:
        raw.close()
    _publish_issued(session, site.id, service.id, admitted.priority)
    return issued


def _publish_issued(session: Session, site_id: int, service_id: int, priority: bool) -> None:
    events.mark_changed(session, (QUEUE, site_id))
    if priority:
        # A priority ticket moves the normal ones back: their pages must know.
        events.mark_changed(session, (POSITIONS, service_id))


def request_fingerprint(site: Site, service: Service, priority: bool, phone: str | None) -> str:
    """What an Idempotency-Key of a ticket request stands for (idempotency.fingerprint)."""
    return idempotency.fingerprint(site=site.id, service=service.id, priority=priority, phone=phone)


def replayed_ticket(
    session: Session,
    site: Site,
    service: Service,
    *,
    actor: Actor,
    idempotency_key: str,
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
        idempotency_key,
        request_fingerprint(site, service, False, None),
        TICKET_KIND,
        expires_at=end_of_day(site, service_day(site, now)),
        now=now,
    )
    if claimed.replayed and claimed.resource_ref == ticket.code:
        return Issued(ticket, False, *position_and_wait(session, ticket))
    return None


def _issue(
    raw: Raw,
    site: Site,
    service: Service,
    actor: Actor,
    source: TicketSource,
    phone: str | None,
    admitted: _Admitted,
    now: datetime,
) -> tuple[NewTicket, int, int]:
    priority_class = PriorityClass.PRIORITY if admitted.priority else PriorityClass.NORMAL
    rank = PRIORITY_RANK[priority_class]
    params = {
        "site_id": site.id,
        "service_id": service.id,
        "service_day": bind_date(raw.dialect, admitted.day),
        "prefix": service.prefix,
        "code": admitted.code,
        "priority_class": priority_class.value,
        "priority_rank": rank,
        "source": source.value,
        "phone": phone,
        "device_id": actor.device_id,
        "user_id": actor.user_id,
        "now": bind_datetime(raw.dialect, now),
    }
    if raw.postgresql:
        # One statement: the people ahead (read before the ticket exists), the
        # number, the ticket and its event with the estimate given at issue.
        params["hour"] = local_hour_of(now, site.timezone)
        ticket_id, number, *ahead = raw.one(ISSUE_POSTGRESQL, params)
        position, wait = position_and_minutes(service, *ahead)
        label = format_label(service.prefix, number)
    else:
        # Read before the insert: the people already waiting ahead of a newcomer of this rank.
        position, wait = ahead_of_newcomer(
            raw, service, admitted.day, rank, now=now, timezone=site.timezone
        )
        (number,) = raw.one(NEXT_NUMBER_SQLITE, params)
        label = params["label"] = format_label(service.prefix, number)
        params["number"] = number
        ticket_id = raw.execute(INSERT_TICKET_SQLITE, params).lastrowid
        # The estimate given at issue: the dashboard compares it with the real wait.
        params["ticket_id"] = ticket_id
        params["data"] = json.dumps({"number": number, "estimate": wait})
        raw.execute(INSERT_ISSUED_EVENT_SQLITE, params)
    log.debug("issued ticket %s (%s) at %s", label, ticket_id, site.slug)
    new = NewTicket(
        ticket_id,
        number,
        label,
        admitted.code,
        site.id,
        service.id,
        admitted.day,
        priority_class,
        rank,
        source,
        phone,
        actor.device_id,
        now,
    )
    return new, position, wait


def _loaded_ticket(session: Session, new: NewTicket) -> Ticket:
    """The session's object for a ticket just inserted, as if loaded (no statement)."""
    return loaded_ticket(
        session,
        {
            "id": new.id,
            "site_id": new.site_id,
            "service_id": new.service_id,
            "issued_service_id": new.service_id,
            "service_day": new.service_day,
            "number": new.number,
            "label": new.label,
            "code": new.code,
            "priority_class": new.priority_class,
            "priority_rank": new.priority_rank,
            "source": new.source,
            "status": TicketStatus.WAITING,
            "phone": new.phone,
            "counter_id": None,
            "agent_id": None,
            "device_id": new.device_id,
            "issued_at": new.issued_at,
            "queued_at": new.issued_at,
            "first_called_at": None,
            "called_at": None,
            "started_at": None,
            "finished_at": None,
            "recall_count": 0,
            "transfer_count": 0,
        },
    )


def loaded_ticket(session: Session, columns: dict[str, Any]) -> Ticket:
    """The session's object for a ticket of these column values, as if loaded (no statement).

    ``columns`` holds every column, as a statement written in plain SQL read them.
    """
    ticket = Ticket(**columns)
    make_transient_to_detached(ticket)
    session.add(ticket)
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
    """Load a ticket by its public tracking code."""
    ticket = session.scalar(select(Ticket).where(Ticket.code == code.upper()))
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
    publish_call(session, ticket, ticket.counter, recall=True)
    publish_ticket(session, ticket)
    return ticket


def start(session: Session, ticket: Ticket, *, actor: Actor, now: datetime | None = None) -> Ticket:
    """The citizen reached the counter: called → serving."""
    now = now or utcnow()
    _require(ticket, (TicketStatus.CALLED,), "start")
    ticket.status = TicketStatus.SERVING
    ticket.started_at = now
    record(session, ticket, EventKind.STARTED, TicketStatus.CALLED, actor, now)
    publish_ticket(session, ticket)
    return ticket


def finish(
    session: Session,
    ticket: Ticket,
    *,
    actor: Actor,
    now: datetime | None = None,
    learn: bool = True,
) -> Ticket:
    """Service is over: called or serving → done; teaches the service's average duration.

    With ``learn=False`` the caller teaches it later with :func:`learn_from`.
    """
    now = now or utcnow()
    _require(ticket, ACTIVE_STATUSES, "finish")
    previous = ticket.status
    write(session, ticket, status=TicketStatus.DONE, finished_at=now)
    record(session, ticket, EventKind.FINISHED, previous, actor, now)
    publish_ticket(session, ticket)
    if learn:
        learn_from(session, ticket)
    publish_finished(session, ticket)
    return ticket


def learn_from(session: Session, ticket: Ticket) -> None:
    """Fold a finished ticket's service time into its service's learned average."""
    seconds = learnable_seconds(ticket.started_at or ticket.called_at, ticket.finished_at)
    if seconds is not None:
        learn_service_duration(session, ticket.service, seconds)


def mark_no_show(
    session: Session, ticket: Ticket, *, actor: Actor, now: datetime | None = None
) -> Ticket:
    """The citizen did not come to the counter: called → no_show."""
    now = now or utcnow()
    _require(ticket, (TicketStatus.CALLED,), "no_show")
    ticket.status = TicketStatus.NO_SHOW
    ticket.finished_at = now
    record(session, ticket, EventKind.NO_SHOW, TicketStatus.CALLED, actor, now)
    publish_ticket(session, ticket)
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
    publish_ticket(session, ticket)
    if previous == TicketStatus.WAITING:
        publish_queue_changed(session, ticket.site)
        publish_positions(session, [ticket.service_id])
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
    publish_counter(session, from_counter)
    publish_queue_changed(session, ticket.site)
    publish_positions(session, [previous_service.id, service.id])
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
    publish_ticket(session, ticket)
