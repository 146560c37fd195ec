"""The only module that emits Socket.IO events; it emits only after commit.

Domain operations call :func:`queue` while their transaction is open, with a
payload of public fields built then. The session's ``after_commit`` hook emits
the queued events; a rollback drops them. So a display never announces a call
that was not committed (invariant 3).

Realtime pushes are not retried from a durable outbox: a late "B-007, guichet 3"
would mislead the waiting room. A screen that missed events (network, Redis or
server restart) resynchronises from the board on reconnect instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

PENDING_KEY = "queue_app.pending_events"
EMITTER_KEY = "queue_app.emitter"

TICKET_CALLED = "ticket_called"
QUEUE_CHANGED = "queue_changed"
TICKET_UPDATED = "ticket_updated"


class Emitter(Protocol):
    def emit(self, event: str, data: Any, to: str | None = None, namespace: str = "/") -> Any: ...


@dataclass(frozen=True)
class PendingEvent:
    name: str
    room: str
    payload: dict[str, Any]


def site_room(slug: str) -> str:
    """Room of a site's displays."""
    return f"site:{slug}"


def agents_room(slug: str) -> str:
    """Room of the agent consoles and managers of a site."""
    return f"agents:{slug}"


def ticket_room(code: str) -> str:
    """Room of the tracking pages following one ticket."""
    return f"ticket:{code}"


def queue(
    session: Session, name: str, room: str, payload: dict[str, Any], *, coalesce: bool = False
) -> None:
    """Queue an event for emission after the session commits.

    With ``coalesce``, a later event of the same name and room replaces the
    earlier one (state snapshots such as queue counts: only the last matters).
    """
    pending: list[PendingEvent] = session.info.setdefault(PENDING_KEY, [])
    if coalesce:
        pending[:] = [e for e in pending if not (e.name == name and e.room == room)]
    pending.append(PendingEvent(name, room, payload))


def pending_events(session: Session) -> list[PendingEvent]:
    """Events queued in the session's open transaction (for tests and debugging)."""
    return list(session.info.get(PENDING_KEY, []))


def restore_pending(session: Session, pending: list[PendingEvent]) -> None:
    """Put back the events queued before a savepoint that was rolled back."""
    session.info[PENDING_KEY] = list(pending)


def _after_commit(session: Session) -> None:
    pending: list[PendingEvent] | None = session.info.pop(PENDING_KEY, None)
    if not pending:
        return
    emitter: Emitter | None = current_app.extensions.get(EMITTER_KEY)
    if emitter is None:
        log.debug("no realtime emitter configured; %d event(s) not pushed", len(pending))
        return
    for item in pending:
        try:
            emitter.emit(item.name, item.payload, to=item.room, namespace="/")
        except Exception:
            # The commit stands; screens catch up from the board when they reconnect.
            log.warning("realtime push %s to %s failed", item.name, item.room, exc_info=True)


def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)


def install(session_target: Any) -> None:
    """Hook the after-commit emission onto a session factory (once)."""
    if not event.contains(session_target, "after_commit", _after_commit):
        event.listen(session_target, "after_commit", _after_commit)
        event.listen(session_target, "after_rollback", _after_rollback)


def set_emitter(app: Flask, emitter: Emitter | None) -> None:
    """Choose what emits for this app: the Socket.IO server, or a write-only queue client."""
    app.extensions[EMITTER_KEY] = emitter
