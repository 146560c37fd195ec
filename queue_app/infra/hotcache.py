"""Per-process caches of bearer tokens and set-up rows, dropped everywhere on change.

Issuing a ticket and calling the next one are the hot paths: resolving the
kiosk's or agent's token, and reading the site, service and display set-up on
every request, cost more than the work itself. They are read here through a
cache of this app (one per process): detached, never modified ORM objects,
merged into the request's session without a statement (``session.merge(...,
load=False)``), so the code after them sees ordinary objects of its session.

Guarantees:

* A change committed in this process to a watched row (a device revoked, a
  token deleted, a user deactivated or with a new password, a site, its
  closures, a service, a counter's services, a display's services) drops the
  whole cache at once, after commit (``after_commit``; a rollback drops
  nothing).
* With ``REDIS_URL``, the process then publishes on ``<SOCKETIO_CHANNEL>:cache``
  and every other process drops its cache on receipt (a revoked kiosk is refused
  by another process within milliseconds). Entries then live
  ``HOT_CACHE_SECONDS``. Without Redis, or while the subscription is down,
  entries live ``HOT_CACHE_FALLBACK_SECONDS`` (1 s): a change made by another
  process is seen within that time. When the subscription comes (back), the
  cache is dropped (messages may have been missed meanwhile).
* A value read before a drop is never stored after it (a generation number).
* Token validity that depends on time (a user token's expiry) is checked on
  every use, not cached.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from .snapshots import IGNORED_ATTRIBUTES, attach, snapshot

log = logging.getLogger(__name__)

__all__ = ["IGNORED_ATTRIBUTES", "attach", "cached", "hot_cache", "install", "snapshot"]

EXTENSION_KEY = "hot_cache"
CHANGED_KEY = "queue_app.hot_cache_changed"
REFS_KEY = "queue_app.hot_cache_refs"
T = TypeVar("T")


def _watched_tables() -> frozenset[str]:
    return frozenset(
        {
            "sites",
            "site_closures",
            "services",
            "counter_services",
            "devices",
            "device_services",
            "users",
            "user_sites",
            "api_tokens",
            "service_time_profiles",
        }
    )


class HotCache:
    """The cache of one app (one per process in production)."""

    def __init__(self, app: Flask) -> None:
        self.seconds = float(app.config.get("HOT_CACHE_SECONDS", 5))
        self.fallback_seconds = float(app.config.get("HOT_CACHE_FALLBACK_SECONDS", 1))
        self.enabled = self.seconds > 0
        self.redis_url = app.config.get("REDIS_URL") or None
        self.channel = f"{app.config.get('SOCKETIO_CHANNEL') or 'guichet'}:cache"
        self.retry_seconds = max(float(app.config.get("REDIS_RETRY_SECONDS", 2)), 0.05)
        self.me = uuid.uuid4().hex
        self._entries: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self.generation = 0
        self.subscribed = False
        self._listener: threading.Thread | None = None
        self._publisher: Any = None

    # --- reading ----------------------------------------------------------------------

    def ttl(self) -> float:
        if self.redis_url and self.subscribed:
            return self.seconds
        return min(self.seconds, self.fallback_seconds)

    def get(self, key: Any, load: Callable[[], T]) -> T:
        """The cached value of ``key``, else ``load()`` (kept unless None or dropped meanwhile)."""
        if not self.enabled:
            return load()
        if self.redis_url and self._listener is None:
            self._start_listener()
        now = time.monotonic()
        found = self._entries.get(key)
        if found is not None and found[0] > now:
            return found[1]
        generation = self.generation
        value = load()
        if value is None:
            # Not found: not remembered (a row created meanwhile must be found).
            return value
        with self._lock:
            if generation == self.generation:
                self._entries[key] = (now + self.ttl(), value)
        return value

    def drop(self) -> None:
        """Forget everything (this process only)."""
        with self._lock:
            self.generation += 1
            self._entries.clear()

    # --- changes ------------------------------------------------------------------------

    def changed(self) -> None:
        """A watched row changed and was committed: drop here, and tell the other processes."""
        self.drop()
        if self.redis_url:
            try:
                if self._publisher is None:
                    from ..realtime.redis_publish import redis_client

                    self._publisher = redis_client(self.redis_url)
                self._publisher.publish(self.channel, self.me)
            except Exception as error:  # noqa: BLE001 - Redis down: the others expire soon
                log.warning("hot cache: could not tell the other processes (%s)", error)

    def _start_listener(self) -> None:
        with self._lock:
            if self._listener is not None:
                return
            self._listener = threading.Thread(
                target=self._listen, name="guichet-hot-cache", daemon=True
            )
        self._listener.start()

    def _listen(self) -> None:
        from ..realtime.redis_publish import redis_client

        while True:
            pubsub = None
            try:
                client = redis_client(self.redis_url, socket_timeout=None)  # type: ignore[arg-type]
                pubsub = client.pubsub()
                pubsub.subscribe(self.channel)
                while True:
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        # Changes published while unsubscribed were missed.
                        self.subscribed = True
                        self.drop()
                    elif message["type"] == "message":
                        data = message["data"]
                        if isinstance(data, bytes):
                            data = data.decode()
                        if data != self.me:
                            self.drop()
            except Exception as error:  # noqa: BLE001 - Redis went away: try again later
                if self.subscribed:
                    log.warning("hot cache: Redis subscription lost (%s)", error)
                self.subscribed = False
                self.drop()
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        pubsub.close()
                time.sleep(self.retry_seconds)


def hot_cache(app: Flask | None = None) -> HotCache:
    app = app or current_app
    cache = app.extensions.get(EXTENSION_KEY)
    if cache is None:
        cache = app.extensions[EXTENSION_KEY] = HotCache(app)
    return cache


def cached(key: Any, load: Callable[[], T]) -> T:
    """``load()`` through the current app's cache."""
    return hot_cache().get(key, load)


def detach(session: Session, *objects: Any) -> None:
    """Take loaded objects out of ``session`` so that they can be cached."""
    for obj in objects:
        if obj is not None and obj in session:
            session.expunge(obj)


# --- noticing changes ------------------------------------------------------------------


def _table_of(obj: Any) -> str | None:
    table = getattr(type(obj), "__tablename__", None)
    return table if isinstance(table, str) else None


def _matters(obj: Any, watched: frozenset[str]) -> bool:
    if _table_of(obj) not in watched:
        return False
    state = inspect(obj)
    for attr in state.mapper.attrs:
        if attr.key in IGNORED_ATTRIBUTES:
            continue
        if state.attrs[attr.key].history.has_changes():
            return True
    return False


def _after_flush(session: Session, flush_context: Any) -> None:
    if session.info.get(CHANGED_KEY):
        return
    watched = _watched_tables()
    if any(_table_of(obj) in watched for obj in (*session.new, *session.deleted)) or any(
        _matters(obj, watched) for obj in session.dirty
    ):
        session.info[CHANGED_KEY] = True


def _do_orm_execute(state: Any) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name in _watched_tables():
        state.session.info[CHANGED_KEY] = True


def _after_commit(session: Session) -> None:
    if session.info.pop(CHANGED_KEY, False) and has_app_context():
        hot_cache().changed()


def _after_rollback(session: Session) -> None:
    session.info.pop(CHANGED_KEY, None)


def install(session_target: Any) -> None:
    """Hook change detection onto a session factory (once)."""
    if not event.contains(session_target, "after_commit", _after_commit):
        event.listen(session_target, "after_flush", _after_flush)
        event.listen(session_target, "do_orm_execute", _do_orm_execute)
        event.listen(session_target, "after_commit", _after_commit)
        event.listen(session_target, "after_rollback", _after_rollback)
