"""Calling the next ticket at a counter (invariant 2: one ticket, one counter)."""

from __future__ import annotations

import logging
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any, NamedTuple, cast

from sqlalchemy import bindparam, select
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
    Site,
    Ticket,
    TicketStatus,
    utcnow,
)
from . import errors
from .actors import Actor
from .days import service_day
from .estimates import LEARN_SQL, learnable_seconds, queue_order
from .policy import Candidate, choose_next
from .publish import (
    publish_call,
    publish_finished,
    publish_positions,
    publish_queue_changed,
    publish_ticket,
)
from .rawsql import Columns, Raw, Statement, bind_date, bind_datetime
from .sites import cached_service, service_snapshot
from .tickets import loaded_ticket

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


class CounterRow(NamedTuple):
    """What calling needs of a counter, as locked for the call."""

    id: int
    site_id: int
    name: str
    state: CounterState
    agent_id: int | None


class Called(NamedTuple):
    """What a call changed, as now stored: ticket columns by name (plain SQL, no ORM object)."""

    # The ticket called, or None when nothing waits for the counter's services.
    ticket: dict[str, Any] | None
    # The tickets that were in progress at the counter, now done.
    finished: list[dict[str, Any]]
    # Service id → its learned average duration after these tickets taught it.
    learned: dict[int, int]


# The SQL texts below are made of column names, enum values and integers only
# (noqa S608: nothing from a request is written into them).
_COUNTER = Columns(Counter.__table__, CounterRow._fields)
_TICKET = Columns(Ticket.__table__)
_ACTIVE = ", ".join(f"'{status.value}'" for status in ACTIVE_STATUSES)

_READ_COUNTER = f"SELECT {_COUNTER.sql} FROM counters WHERE id = :counter_id"  # noqa: S608
# PostgreSQL row-locks; SQLite's transaction already holds the writer lock.
_LOCK_COUNTER_ROW = {
    True: Statement(_READ_COUNTER + " FOR UPDATE"),
    False: Statement(_READ_COUNTER),
}

# SQLite: one statement per change (no round trips there).
_IN_PROGRESS = Statement(
    f"SELECT {_TICKET.sql} FROM tickets WHERE counter_id = :counter_id AND status IN ({_ACTIVE})"  # noqa: S608
)
_FINISH = Statement(
    f"UPDATE tickets SET status = '{TicketStatus.DONE.value}', finished_at = :now "  # noqa: S608
    "WHERE id = :ticket_id"
)
_CALL = Statement(
    f"UPDATE tickets SET status = '{TicketStatus.CALLED.value}', counter_id = :counter_id, "  # noqa: S608
    "agent_id = :agent_id, called_at = :now, first_called_at = COALESCE(first_called_at, :now) "
    "WHERE id = :ticket_id"
)
_EVENT = Statement(
    "INSERT INTO ticket_events (ticket_id, site_id, service_id, kind, from_status, to_status, "
    "counter_id, user_id, device_id, at) VALUES (:ticket_id, :site_id, :service_id, :kind, "
    ":from_status, :to_status, :counter_id, :user_id, :device_id, :now)"
)
_LEARN = Statement(LEARN_SQL)

# A service's tickets that can be called now, and the order they are called in.
_CALLABLE = (
    f"status = '{TicketStatus.WAITING.value}' "
    # A checked-in appointment waits for its slot (queued_at) to be called.
    f"AND (priority_class != '{PriorityClass.APPOINTMENT.value}' OR queued_at <= :now)"
)
_CALL_ORDER = ", ".join(column.name for column in queue_order())

# PostgreSQL: one statement (one round trip) per step, with data-modifying CTEs.
_RETURNED = ", ".join(f"t.{name}" for name in _TICKET.names)
_LOG_FROM = (
    "INSERT INTO ticket_events (ticket_id, site_id, service_id, kind, from_status, to_status, "
    "counter_id, user_id, device_id, at) SELECT id, site_id, service_id, :kind, {previous}, "
    "status, :counter_id, :user_id, :device_id, :now FROM {rows}"
)
# The counter's tickets in progress finished and logged; returns them and their former status.
_FINISH_ALL_POSTGRESQL = Statement(
    "WITH old AS ("  # noqa: S608
    f"SELECT id, status FROM tickets WHERE counter_id = :counter_id AND status IN ({_ACTIVE}) "
    "FOR UPDATE), "
    f"done AS (UPDATE tickets t SET status = '{TicketStatus.DONE.value}', finished_at = :now "
    f"FROM old WHERE t.id = old.id RETURNING {_RETURNED}, old.status AS from_status), "
    f"logged AS ({_LOG_FROM.format(previous='from_status', rows='done')}) "
    f"SELECT {_TICKET.sql}, from_status FROM done"
)
# The first waiting ticket of the chosen service that no other transaction holds
# (usually the head the policy chose; the next one while another agent is calling
# it), locked, called and logged; returns it, or no row when the service has none.
_CALL_FIRST_POSTGRESQL = Statement(
    "WITH head AS ("  # noqa: S608
    "SELECT id FROM tickets WHERE service_id = :service_id AND service_day = :day "
    f"AND {_CALLABLE} ORDER BY {_CALL_ORDER} LIMIT 1 FOR UPDATE SKIP LOCKED), "
    f"called AS (UPDATE tickets t SET status = '{TicketStatus.CALLED.value}', "
    "counter_id = :counter_id, agent_id = :user_id, called_at = :now, "
    "first_called_at = COALESCE(t.first_called_at, :now) "
    f"FROM head WHERE t.id = head.id RETURNING {_RETURNED}), "
    f"logged AS ({_LOG_FROM.format(previous=repr(TicketStatus.WAITING.value), rows='called')}) "
    f"SELECT {_TICKET.sql} FROM called"
)


def lock_counter_row(raw: Raw, counter_id: int) -> CounterRow | None:
    """The counter, row-locked (PostgreSQL) for the rest of the transaction, or None."""
    row = raw.first(_LOCK_COUNTER_ROW[raw.postgresql], {"counter_id": counter_id})
    return None if row is None else CounterRow(**_COUNTER.read(raw.dialect, row))


def call_next(
    session: Session,
    counter: Counter,
    *,
    actor: Actor,
    now: datetime | None = None,
    locked: bool = False,
) -> Ticket | None:
    """Call the next ticket for a counter; None when nothing waits for its services.

    :func:`call_next_rows` with the session's objects: the ticket called is
    returned as the session's object, and the objects of the session that the
    call changed (the tickets it finished, their services' learned durations)
    hold the new values. ``locked``: the caller has just loaded ``counter``
    with :func:`lock_counter` in this transaction.
    """
    now = now or utcnow()
    if not locked:
        counter = lock_counter(session, counter.id)
    # Plain SQL follows: the session's pending changes are written first.
    session.flush()
    raw = Raw(session)
    try:
        called = call_next_rows(
            raw,
            CounterRow(counter.id, counter.site_id, counter.name, counter.state, counter.agent_id),
            counter.site,
            actor=actor,
            now=now,
        )
    finally:
        raw.close()
    for columns in called.finished:
        _refresh(session, Ticket, columns["id"], columns)
    for service_id, seconds in called.learned.items():
        _refresh(session, Service, service_id, {"avg_service_seconds": seconds})
    if called.ticket is None:
        return None
    ticket = _refresh(session, Ticket, called.ticket["id"], called.ticket)
    if ticket is None:
        ticket = loaded_ticket(session, called.ticket)
    set_committed_value(ticket, "counter", counter)
    cached_service(session, ticket.service_id)
    return ticket


def _refresh(session: Session, model: type, row_id: int, values: dict[str, Any]) -> Any:
    """The session's object of this row, if it holds one, given ``values`` as committed."""
    found = session.identity_map.get(identity_key(model, row_id))
    if found is not None:
        for key, value in values.items():
            set_committed_value(found, key, value)
    return found


def call_next_rows(
    raw: Raw, counter: CounterRow, site: Site, *, actor: Actor, now: datetime
) -> Called:
    """Call the next ticket for a counter locked in this transaction (:func:`lock_counter_row`).

    The counter's tickets in progress are finished first. Besides the counter
    (locked by the caller), locks only the ticket it calls: the heads of the
    counter's services are read without locks and the policy chooses a service;
    on PostgreSQL its first waiting ticket that no other transaction holds is
    then locked (SKIP LOCKED) and called in one statement, so an agent whose
    head another agent is calling at that instant takes the next one without
    waiting or reading again, a concurrent agent never skips a head that nobody
    calls, and no ticket is called twice. SQLite serialises write transactions:
    the head read is the one called. Queues ``ticket_called``,
    ``feedback_request``, and the ticket, counter, position and queue pushes.
    Plain SQL on the session's connection (rawsql.py): a fixed number of
    statements, none through the ORM (PostgreSQL: one per step).
    """
    if counter.state != CounterState.OPEN:
        raise errors.CounterNotOpen(state=counter.state.value)
    dialect = raw.dialect
    day = service_day(site, now)
    stamp = bind_datetime(dialect, now)

    finished = _finish_in_progress(raw, counter.id, actor, now, stamp)
    ticket = _take_next(raw, counter.id, day, now, actor, stamp)
    if ticket is not None:
        log.debug("counter %s called %s", counter.id, ticket["label"])

    # Last, in service order: the learned durations' row locks (one per service)
    # are then held for the commit only, not while the next ticket is chosen,
    # and two counters never take them in opposite orders.
    learned: dict[int, int] = {}
    for done in sorted(finished, key=lambda t: t["service_id"]):
        seconds = learnable_seconds(done["started_at"] or done["called_at"], now)
        if seconds is not None:
            (average,) = raw.one(_LEARN, {"seconds": seconds, "service_id": done["service_id"]})
            learned[done["service_id"]] = int(average)

    _publish(raw.session, site, counter, ticket, finished)
    return Called(ticket, finished, learned)


def _finish_in_progress(
    raw: Raw, counter_id: int, actor: Actor, now: datetime, stamp: Any
) -> list[dict[str, Any]]:
    """The counter's tickets in progress, finished and logged (their columns as now stored)."""
    dialect = raw.dialect
    if raw.postgresql:
        rows = raw.execute(
            _FINISH_ALL_POSTGRESQL, _logged(EventKind.FINISHED, counter_id, actor, stamp)
        ).fetchall()
        return [_TICKET.read(dialect, row[:-1]) for row in rows]
    finished = [
        _TICKET.read(dialect, row)
        for row in raw.execute(_IN_PROGRESS, {"counter_id": counter_id}).fetchall()
    ]
    for done in finished:
        raw.execute(_FINISH, {"now": stamp, "ticket_id": done["id"]})
        previous = done["status"]
        done.update(status=TicketStatus.DONE, finished_at=now)
        raw.execute(_EVENT, _event(done, EventKind.FINISHED, previous, counter_id, actor, stamp))
    return finished


def _call(
    raw: Raw, head: dict[str, Any], counter_id: int, actor: Actor, now: datetime, stamp: Any
) -> dict[str, Any] | None:
    """Call the head of a service: the columns of the ticket called, as now stored.

    On PostgreSQL, the service's first waiting ticket not held by another
    transaction (None when there is none). On SQLite this transaction holds the
    writer lock, nobody else is calling: ``head`` itself.
    """
    if raw.postgresql:
        params = _logged(EventKind.CALLED, counter_id, actor, stamp)
        params.update(
            service_id=head["service_id"],
            day=bind_date(raw.dialect, head["service_day"]),
        )
        row = raw.first(_CALL_FIRST_POSTGRESQL, params)
        return None if row is None else _TICKET.read(raw.dialect, row)
    raw.execute(
        _CALL,
        {
            "counter_id": counter_id,
            "agent_id": actor.user_id,
            "now": stamp,
            "ticket_id": head["id"],
        },
    )
    head.update(
        status=TicketStatus.CALLED,
        counter_id=counter_id,
        agent_id=actor.user_id,
        called_at=now,
        first_called_at=head["first_called_at"] or now,
    )
    raw.execute(
        _EVENT, _event(head, EventKind.CALLED, TicketStatus.WAITING, counter_id, actor, stamp)
    )
    return head


def _logged(kind: EventKind, counter_id: int, actor: Actor, stamp: Any) -> dict[str, Any]:
    """The parameters of a PostgreSQL step's event rows."""
    return {
        "kind": kind.value,
        "counter_id": counter_id,
        "user_id": actor.user_id,
        "device_id": actor.device_id,
        "now": stamp,
    }


def _event(
    ticket: dict[str, Any],
    kind: EventKind,
    previous: TicketStatus,
    counter_id: int,
    actor: Actor,
    stamp: Any,
) -> dict[str, Any]:
    return {
        "ticket_id": ticket["id"],
        "site_id": ticket["site_id"],
        "service_id": ticket["service_id"],
        "kind": kind.value,
        "from_status": previous.value,
        "to_status": ticket["status"].value,
        "counter_id": counter_id,
        "user_id": actor.user_id,
        "device_id": actor.device_id,
        "now": stamp,
    }


def _publish(
    session: Session,
    site: Site,
    counter: CounterRow,
    ticket: dict[str, Any] | None,
    finished: list[dict[str, Any]],
) -> None:
    """The pushes of a call, after commit (the publishers read the columns they name)."""
    for done in finished:
        view = ticket_view(session, site, counter, done)
        publish_ticket(session, view)
        publish_finished(session, view)
    if ticket is not None:
        view = ticket_view(session, site, counter, ticket)
        publish_call(session, view, cast(Any, counter), recall=False)
        publish_ticket(session, view)
        publish_positions(session, [ticket["service_id"]])
    if ticket is not None or finished:
        publish_queue_changed(session, site)


def ticket_view(session: Session, site: Site, counter: CounterRow, columns: dict[str, Any]) -> Any:
    """A ticket's columns with its site, service and counter, read as a Ticket's attributes.

    What the payload builders (publish.py) and ``ticket_json`` read of a ticket.
    """
    service = service_snapshot(session, columns["service_id"])
    # The cached service is detached: its name in the site's language, from the site held.
    named = SimpleNamespace(code=service.code, name=service.name_in(None, site=site))
    return SimpleNamespace(**columns, site=site, service=named, counter=counter)


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
    from ..infra.hotcache import cached

    def load() -> dict[int, int]:
        return dict(session.execute(_LINKS, {"counter_id": counter_id}).tuples().all())

    return cached(("counter_weights", counter_id), load)


def _take_next(
    raw: Raw, counter_id: int, day: date, now: datetime, actor: Actor, stamp: Any
) -> dict[str, Any] | None:
    weights = counter_weights(raw.session, counter_id)
    if not weights:
        return None
    dialect = raw.dialect
    rows = raw.execute(
        _heads(tuple(sorted(weights))), {"day": bind_date(dialect, day), "now": stamp}
    ).fetchall()
    heads = {head["service_id"]: head for head in (_TICKET.read(dialect, row) for row in rows)}
    while heads:
        chosen = choose_next(
            [
                Candidate(
                    ticket_id=head["id"],
                    service_id=head["service_id"],
                    is_priority=head["priority_class"] == PriorityClass.PRIORITY,
                    waiting_since=head["queued_at"],
                    weight=weights[head["service_id"]],
                    is_appointment=head["priority_class"] == PriorityClass.APPOINTMENT,
                )
                for head in heads.values()
            ],
            now,
        )
        if chosen is None:
            return None
        called = _call(raw, heads[chosen.service_id], counter_id, actor, now, stamp)
        if called is not None:
            return called
        # Every ticket of that service is being called by other agents right now.
        del heads[chosen.service_id]
    return None


_HEADS: dict[tuple[int, ...], Statement] = {}


def _heads(service_ids: tuple[int, ...]) -> Statement:
    """The first waiting ticket of each service (one statement, no lock), built once per set."""
    statement = _HEADS.get(service_ids)
    if statement is not None:
        return statement
    # Ids are integers from the database, written into the text as such.
    firsts = [
        f"SELECT * FROM (SELECT {_TICKET.sql} FROM tickets "  # noqa: S608
        f"WHERE service_id = {int(service_id)} AND service_day = :day AND {_CALLABLE} "
        f"ORDER BY {_CALL_ORDER} LIMIT 1) AS head_{n}"
        for n, service_id in enumerate(service_ids)
    ]
    statement = Statement(" UNION ALL ".join(firsts))
    if len(_HEADS) < 1024:
        _HEADS[service_ids] = statement
    return statement
