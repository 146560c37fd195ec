"""The only module that emits Socket.IO events; it emits only after commit.

Two kinds of events:

* Moments (``ticket_called``): domain operations call :func:`queue` inside
  their transaction with a payload of public fields; the session's
  ``after_commit`` hook emits them, a rollback drops them.
* State (``queue_changed``, ``ticket_updated``): operations name what changed
  with :func:`mark_changed` (a site's counts, a service's order, one ticket);
  after commit a per-process publisher reads the committed state and pushes
  it, at once for a lone change and at most every ``interval`` seconds in a
  burst. A screen needs the latest state, not one message per change: at 500
  tickets a second to 1,000 screens, one push per ticket would be 500,000
  messages a second, and an agent's call would wait for the new positions of
  every citizen behind. As one thread reads and pushes in turn, a tracking
  page never gets an older state after a newer one from this process.

So a display never announces what was not committed (invariant 3).
Realtime pushes are not retried from a durable outbox: a late "B-007, guichet 3"
would mislead the waiting room. A screen that missed events (network, Redis or
server restart) resynchronises from the board on reconnect instead.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

PENDING_KEY = "queue_app.pending_events"
CHANGED_KEY = "queue_app.changed"
DROP_KEY = "queue_app.drop_connections"
EMITTER_KEY = "queue_app.emitter"
PUBLISHER_KEY = "queue_app.state_publisher"

TICKET_CALLED = "ticket_called"
QUEUE_CHANGED = "queue_changed"
TICKET_UPDATED = "ticket_updated"
# To a print agent: a job is waiting for it ({"id"}); it claims it over HTTP.
PRINT_JOB = "print_job"
# To a counter's satisfaction tablet: a ticket was just served there / was rated.
FEEDBACK_REQUEST = "feedback_request"
FEEDBACK_DONE = "feedback_done"


# What changed, for the publisher: (kind, id), e.g. ("queue", site_id).
StateKey = tuple[str, int]


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


def display_room(device_id: int) -> str:
    """Room of one display configured for some services only (it is not in its site's)."""
    return f"display:{device_id}"


def counter_room(counter_id: int) -> str:
    """Room of the screens above one counter."""
    return f"counter:{counter_id}"


def ticket_room(code: str) -> str:
    """Room of the tracking pages following one ticket."""
    return f"ticket:{code}"


def printer_room(device_id: int) -> str:
    """Room of a print agent device (it joins it on connect)."""
    return f"printer:{device_id}"


def tablet_room(counter_id: int) -> str:
    """Room of the satisfaction tablet of one counter."""
    return f"tablet:{counter_id}"


def device_room(device_id: int) -> str:
    """Room of one device's connections (joined on connect, emptied when its token ends)."""
    return f"device:{device_id}"


def user_room(user_id: int) -> str:
    """Room of one user's connections (joined on connect, emptied when their sessions end)."""
    return f"user:{user_id}"


def queue(session: Session, name: str, room: str, payload: dict[str, Any]) -> None:
    """Queue a moment for emission after the session commits."""
    session.info.setdefault(PENDING_KEY, []).append(PendingEvent(name, room, payload))


def _translate(session: Session) -> None:
    # The facts the domain recorded so far become events (publish.py, before commit).
    from .publish import translate

    translate(session)


def pending_events(session: Session) -> list[PendingEvent]:
    """Events queued in the session's open transaction (for tests and debugging)."""
    _translate(session)
    return list(session.info.get(PENDING_KEY, []))


def restore_pending(session: Session, pending: list[PendingEvent]) -> None:
    """Put back the events queued before a savepoint that was rolled back."""
    session.info[PENDING_KEY] = list(pending)


def mark_changed(session: Session, *keys: StateKey) -> None:
    """Have the state named by ``keys`` pushed once this transaction commits."""
    session.info.setdefault(CHANGED_KEY, set()).update(keys)


def drop_connections(session: Session, room: str) -> None:
    """Disconnect every Socket.IO connection in ``room`` once this transaction commits.

    On every server process: through the Redis message queue when there is one.
    """
    session.info.setdefault(DROP_KEY, set()).add(room)


def changed_keys(session: Session) -> set[StateKey]:
    """What the open transaction will have the publisher push (for tests)."""
    _translate(session)
    return set(session.info.get(CHANGED_KEY, ()))


def emit_now(emitter: Emitter | None, events: list[PendingEvent]) -> None:
    """Emit events; a failure is logged, never raised (the commit already stands)."""
    if emitter is None:
        log.debug("no realtime emitter configured; %d event(s) not pushed", len(events))
        return
    for item in events:
        try:
            emitter.emit(item.name, item.payload, to=item.room, namespace="/")
        except Exception:
            # Screens catch up from the board when they reconnect.
            log.warning("realtime push %s to %s failed", item.name, item.room, exc_info=True)


def disconnect_now(emitter: Emitter | None, rooms: set[str]) -> None:
    """Disconnect the connections in ``rooms``; a failure is logged, never raised."""
    # The worker's RedisEmitter asks the servers through Redis; a Socket.IO server
    # disconnects its own clients, and through Redis those of the other processes.
    drop: Callable[[str], Any] | None = getattr(emitter, "disconnect_room", None)
    if drop is None:
        server = getattr(emitter, "server", None)
        if server is None:
            return
        from .redis_queue import disconnect_room

        drop = functools.partial(disconnect_room, server)
    for room in sorted(rooms):
        try:
            drop(room)
        except Exception:
            log.warning("disconnecting room %s failed", room, exc_info=True)


def _after_commit(session: Session) -> None:
    pending: list[PendingEvent] | None = session.info.pop(PENDING_KEY, None)
    changed: set[StateKey] | None = session.info.pop(CHANGED_KEY, None)
    dropped: set[str] | None = session.info.pop(DROP_KEY, None)
    if dropped:
        disconnect_now(current_app.extensions.get(EMITTER_KEY), dropped)
    if pending:
        emit_now(current_app.extensions.get(EMITTER_KEY), pending)
    if changed:
        publisher: StatePublisher | None = current_app.extensions.get(PUBLISHER_KEY)
        if publisher is not None:
            publisher.mark(changed)


def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)
    session.info.pop(CHANGED_KEY, None)
    session.info.pop(DROP_KEY, None)


class StatePublisher:
    """Pushes the committed state of what changed, coalescing bursts.

    ``build(keys)`` runs in an app context on this publisher's thread and
    returns the events describing the current state behind those keys. The
    thread starts on demand and ends after ``idle_timeout`` seconds without
    changes.
    """

    def __init__(
        self,
        app: Flask,
        build: Callable[[set[StateKey]], list[PendingEvent]],
        *,
        interval: float = 0.1,
        idle_timeout: float = 30.0,
    ) -> None:
        self.app = app
        self.build = build
        self.interval = interval
        self.idle_timeout = idle_timeout
        self._dirty: set[StateKey] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()
        # One publication at a time: the thread, or a test calling publish_pending.
        self._publishing = threading.Lock()

    def mark(self, keys: set[StateKey]) -> None:
        with self._lock:
            self._dirty |= keys
            self._wake.set()
            if not self._halt.is_set() and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(
                    target=self._run, name="queue-app-state-publisher", daemon=True
                )
                self._thread.start()

    def publish_pending(self) -> int:
        """Build and emit the state behind every pending change now; returns how many."""
        with self._publishing:
            with self._lock:
                keys, self._dirty = self._dirty, set()
                self._wake.clear()
            if not keys:
                return 0
            emitter = self.app.extensions.get(EMITTER_KEY)
            with self.app.app_context():
                from ..extensions import db

                try:
                    built = self.build(keys)
                except Exception as error:
                    from ..infra.outages import is_unavailable, outage_of

                    if is_unavailable(error):
                        # Said once per outage by this process (infra/outages.py); the
                        # screens resync when they reconnect or at the next change.
                        outage_of(self.app).failed(error)
                    else:
                        log.warning("state publication failed", exc_info=True)
                    return 0
                finally:
                    try:
                        db.session.remove()
                    except Exception:  # the connection died with the database
                        db.session.close()
            # One event per room and name: the last built is the current state.
            latest = {(item.name, item.room): item for item in built}
            emit_now(emitter, list(latest.values()))
            return len(keys)

    def _run(self) -> None:
        while not self._halt.is_set():
            if not self._wake.wait(self.idle_timeout):
                with self._lock:
                    if not self._dirty:
                        self._thread = None
                        return
            if self._halt.is_set():
                return
            self.publish_pending()
            # Changes arriving during this pause are pushed together afterwards.
            if self._halt.wait(self.interval):
                return

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (pending changes are dropped: screens resync from the board)."""
        self._halt.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)


def install(session_target: Any) -> None:
    """Hook the after-commit emission onto a session factory (once)."""
    if not event.contains(session_target, "after_commit", _after_commit):
        event.listen(session_target, "after_commit", _after_commit)
        event.listen(session_target, "after_rollback", _after_rollback)


def set_emitter(
    app: Flask,
    emitter: Emitter | None,
    build_state: Callable[[set[StateKey]], list[PendingEvent]],
) -> None:
    """Choose what emits for this app (the Socket.IO server, or a write-only queue client)."""
    app.extensions[EMITTER_KEY] = emitter
    app.extensions[PUBLISHER_KEY] = StatePublisher(
        app, build_state, interval=float(app.config.get("QUEUE_CHANGED_INTERVAL", 0.1))
    )
