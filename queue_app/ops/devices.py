"""Devices alive: when each device was last seen, kept in memory, written every few seconds.

A device is seen when it makes a request with its token (REST, kiosk, display
and tablet pages) and while its Socket.IO connection is open. Writing
``last_seen_at`` on every request would add a write to every ticket's issue, so
each process keeps the times in memory (:class:`SeenBook`, a dict under a lock)
and a thread of its own writes them every ``DEVICE_SEEN_FLUSH_SECONDS``, one
``UPDATE`` per device that was seen since, and no more often than every
``DEVICE_SEEN_RESOLUTION_SECONDS`` for one device (a busy kiosk costs one write
every half minute, not one per ticket). A device is ``online`` while it was
seen within ``DEVICE_OFFLINE_SECONDS``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from flask import Flask, current_app, has_app_context
from sqlalchemy import Table, bindparam, or_, update

from ..models import Device, utcnow

log = logging.getLogger(__name__)

BOOK_KEY = "queue_app.device_seen"
# Rounds a write may fail in a row before the times waiting for it are dropped.
MAX_FAILURES = 12


class SeenBook:
    """This process's record of devices seen, and the thread that writes it down."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._pending: dict[int, datetime] = {}  # seen since the last write
        self._written: dict[int, datetime] = {}  # the last time written per device
        self._written_at: dict[int, datetime] = {}  # when it was written
        self._sockets: dict[str, int] = {}  # Socket.IO sid -> device id, connected here
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()
        self._failures = 0  # writes failed in a row (the database is down)

    # --- recording (hot path: a dict assignment) ---------------------------------

    def touch(self, device_id: int, now: datetime | None = None) -> None:
        """The device made a request now."""
        now = now or utcnow()
        with self._lock:
            previous = self._pending.get(device_id)
            if previous is None or previous < now:
                self._pending[device_id] = now
        if self._thread is None:
            self._start()

    def connected(self, sid: str, device_id: int, now: datetime | None = None) -> None:
        """A Socket.IO connection of the device opened here: it is seen while it stays."""
        with self._lock:
            self._sockets[sid] = device_id
        self.touch(device_id, now)

    def disconnected(self, sid: str, now: datetime | None = None) -> None:
        """A Socket.IO connection closed: last seen now."""
        with self._lock:
            device_id = self._sockets.pop(sid, None)
        if device_id is not None:
            self.touch(device_id, now)

    def latest(self, device_id: int, now: datetime | None = None) -> datetime | None:
        """What this process knows beyond the database: seen now when connected here."""
        with self._lock:
            if device_id in self._sockets.values():
                return now or utcnow()
            return self._pending.get(device_id) or self._written.get(device_id)

    # --- writing ------------------------------------------------------------------

    def flush(self, now: datetime | None = None) -> int:
        """Write the devices seen since the last write (connected ones as seen ``now``).

        A device written less than ``DEVICE_SEEN_RESOLUTION_SECONDS`` ago waits
        for a later round; the database keeps the latest time (an older one
        from a slower process never goes back in time). Returns rows written.
        """
        now = now or utcnow()
        config = self.app.config
        resolution = timedelta(seconds=float(config["DEVICE_SEEN_RESOLUTION_SECONDS"]))
        with self._lock:
            pending, self._pending = self._pending, {}
            for device_id in self._sockets.values():
                pending[device_id] = max(pending.get(device_id, now), now)
            due = {}
            for device_id, at in pending.items():
                written = self._written.get(device_id)
                written_at = self._written_at.get(device_id)
                if written is None or written_at is None or now - written_at >= resolution:
                    due[device_id] = at
                elif at > written:
                    # Written recently: kept for a later round (never lost, only late).
                    kept = self._pending.get(device_id)
                    self._pending[device_id] = max(at, kept) if kept else at
        if not due:
            return 0
        try:
            write_seen(self.app, due)
        except Exception:
            self._failures += 1
            if self._failures > MAX_FAILURES:
                # The database stays away: these times are dropped (the devices are
                # seen again by their next request); the thread may then stop.
                log.warning("device last-seen times dropped after %d failed writes", MAX_FAILURES)
                self._failures = 0
                return 0
            log.warning("device last-seen times not written; retried", exc_info=True)
            with self._lock:
                for device_id, at in due.items():
                    kept = self._pending.get(device_id)
                    self._pending[device_id] = max(at, kept) if kept else at
            return 0
        self._failures = 0
        with self._lock:
            self._written.update(due)
            self._written_at.update(dict.fromkeys(due, now))
        return len(due)

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._halt.is_set():
                return
            self._thread = threading.Thread(
                target=self._run, name="queue-app-device-seen", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        interval = float(self.app.config["DEVICE_SEEN_FLUSH_SECONDS"])
        while not self._halt.wait(interval):
            self.flush()
            with self._lock:
                if not self._pending and not self._sockets:
                    # Nothing to watch: the next touch starts a new thread.
                    self._thread = None
                    return
        with self._lock:
            self._thread = None

    def stop(self) -> None:
        """Write what is pending and stop the thread (tests, shutdown)."""
        self._halt.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)
        self.flush()


# The table, not the entity: executed with many parameter sets, a plain executemany.
_DEVICES = cast(Table, Device.__table__)
_SEEN = (
    update(_DEVICES)
    .where(
        _DEVICES.c.id == bindparam("device_id"),
        or_(_DEVICES.c.last_seen_at.is_(None), _DEVICES.c.last_seen_at < bindparam("seen_at")),
    )
    .values(last_seen_at=bindparam("seen_at"))
)


def write_seen(app: Flask, seen: Mapping[int, datetime]) -> None:
    """One transaction, one statement per device: the later of the stored and the seen time."""
    from ..extensions import db

    with app.app_context(), db.engine.begin() as connection:
        connection.execute(
            _SEEN, [{"device_id": key, "seen_at": at} for key, at in sorted(seen.items())]
        )


def book_of(app: Flask) -> SeenBook:
    """The app's book (made on first use)."""
    book = app.extensions.get(BOOK_KEY)
    if book is None:
        book = app.extensions.setdefault(BOOK_KEY, SeenBook(app))
    return book


def seen(device: Device | int, now: datetime | None = None) -> None:
    """Note that a device made a request (call at the edge, in an app context)."""
    if not has_app_context():
        return
    device_id = device if isinstance(device, int) else device.id
    book_of(current_app._get_current_object()).touch(device_id, now)  # type: ignore[attr-defined]


def last_seen(device: Device, now: datetime | None = None) -> datetime | None:
    """The device's last-seen time: the database's, or this process's when later."""
    stored = device.last_seen_at
    if not has_app_context():
        return stored
    book = current_app.extensions.get(BOOK_KEY)
    here = book.latest(device.id, now) if book is not None else None
    if here is None:
        return stored
    return here if stored is None or here > stored else stored


def offline_after(config: Mapping[str, Any]) -> timedelta:
    return timedelta(seconds=float(config["DEVICE_OFFLINE_SECONDS"]))


def is_online(seen_at: datetime | None, now: datetime, config: Mapping[str, Any]) -> bool:
    """Seen within ``DEVICE_OFFLINE_SECONDS``."""
    return seen_at is not None and now - seen_at <= offline_after(config)


def presence(
    device: Device, now: datetime | None = None, config: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``{"last_seen_at", "online"}`` of a device, as the API writes them."""
    from ..realtime.publish import iso

    now = now or utcnow()
    config = config if config is not None else current_app.config
    at = last_seen(device, now)
    return {"last_seen_at": iso(at), "online": is_online(at, now, config)}
