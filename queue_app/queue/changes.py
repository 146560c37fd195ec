"""What an operation changed, recorded in its transaction for the layers above.

The domain names facts (a ticket was called at a counter, the queue of a site
changed, a user's sessions ended), never payloads, rooms or sockets. They are
kept in ``session.info`` until the transaction ends: the realtime layer
(realtime/publish.py, hooked at app start) turns them into the events it pushes
after commit; a rollback drops them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from ..models import Counter, Site, Ticket

FACTS_KEY = "queue_app.changes"


@dataclass(frozen=True)
class QueueChanged:
    """A site's waiting counts changed."""

    site_id: int


@dataclass(frozen=True)
class PositionsChanged:
    """The order of a service's waiting tickets changed."""

    service_id: int


@dataclass(frozen=True)
class TicketChanged:
    """One ticket's state changed."""

    ticket_id: int


@dataclass(frozen=True)
class CounterChanged:
    """What a counter is serving (or its state) changed."""

    counter_id: int


@dataclass(frozen=True, eq=False)
class TicketCalled:
    """A ticket was called (or called again) at a counter: a moment to announce."""

    ticket: Ticket
    counter: Counter
    recall: bool


@dataclass(frozen=True, eq=False)
class TicketFinished:
    """A ticket was served to the end at its counter."""

    ticket: Ticket


@dataclass(frozen=True)
class ConnectionsEnded:
    """A user's sessions or a device's token ended: its live connections must go."""

    user_id: int | None = None
    device_id: int | None = None


def record(session: Session, *facts: Any) -> None:
    """Keep ``facts`` until the transaction ends."""
    session.info.setdefault(FACTS_KEY, []).extend(facts)


def recorded(session: Session) -> list[Any]:
    """The facts the open transaction recorded so far."""
    return list(session.info.get(FACTS_KEY, ()))


def take(session: Session) -> list[Any]:
    """The facts recorded so far, removed from the session (the realtime layer's hook)."""
    return list(session.info.pop(FACTS_KEY, ()))


def forget(session: Session) -> None:
    """Drop the facts of a transaction that rolled back."""
    session.info.pop(FACTS_KEY, None)


def queue_changed(session: Session, site: Site) -> None:
    record(session, QueueChanged(site.id))


def positions_changed(session: Session, service_ids: Iterable[int]) -> None:
    record(session, *(PositionsChanged(service_id) for service_id in service_ids))


def counter_changed(session: Session, counter_id: int | None) -> None:
    if counter_id is not None:
        record(session, CounterChanged(counter_id))


def ticket_changed(session: Session, ticket: Ticket) -> None:
    """The ticket's state changed; so did what its counter shows."""
    if ticket.id is None:
        session.flush()
    record(session, TicketChanged(ticket.id))
    counter_changed(session, ticket.counter_id)


def ticket_called(session: Session, ticket: Ticket, counter: Counter, *, recall: bool) -> None:
    record(session, TicketCalled(ticket, counter, recall))
    counter_changed(session, counter.id)


def ticket_finished(session: Session, ticket: Ticket) -> None:
    if ticket.counter_id is not None:
        record(session, TicketFinished(ticket))


def connections_ended(
    session: Session, *, user_id: int | None = None, device_id: int | None = None
) -> None:
    record(session, ConnectionsEnded(user_id=user_id, device_id=device_id))
