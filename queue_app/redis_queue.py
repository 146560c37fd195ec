"""Socket.IO between server processes over Redis, riding out Redis outages.

python-socketio's Redis manager delivers an emit to this process's own clients
and publishes it on a Redis channel for the other processes. This subclass
keeps that, and adds what an office needs when Redis goes away:

* Publishing never stalls a request: one quick attempt (2 s timeouts, no
  backoff loop); once it failed, emits reach this process's screens only and
  are not tried on Redis at all, while a probe thread pings Redis every
  ``REDIS_RETRY_SECONDS``. The outage is logged once when it starts and once
  when it ends (not per event).
* The subscription comes back by itself (every ``REDIS_RETRY_SECONDS`` at
  most, not python-socketio's backoff up to a minute). Each time it is in
  place (the first time too, since a client may have connected before it),
  the process emits ``resync`` ``{"reason": ...}`` to all its own clients:
  whatever other processes published meanwhile was lost for them, and every
  screen answers ``resync`` by fetching its current state again. The event
  is sent once Redis has confirmed the subscription, so anything committed
  before it is in that state and anything after it arrives as usual.
* When publishing works again, the process asks the others (through Redis)
  to send ``resync`` to their screens too (reason ``peer_reconnected``): the
  events it could not publish meanwhile reached its own screens only.
* ``disconnect_room``: drops every connection in a room, on every process
  (a revoked device token, a user whose sessions ended).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import socketio
from flask import Flask

log = logging.getLogger(__name__)

RESYNC = "resync"
NAMESPACE = "/"


def fail_fast_options() -> dict[str, Any]:
    """Redis client options that fail fast: 2 s timeouts, one immediate retry (no backoff loop).

    redis-py's default retries ten times with backoff (seconds): a request
    emitting an event, a sign-in, or a readiness probe would hang that long on
    a dead Redis.
    """
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return {"socket_timeout": 2, "socket_connect_timeout": 2, "retry": Retry(NoBackoff(), 1)}


def redis_client(url: str, **options: Any) -> Any:
    """A Redis client with :func:`fail_fast_options` (``options`` override them)."""
    import redis

    return redis.Redis.from_url(url, **{**fail_fast_options(), **options})


class GuichetRedisManager(socketio.RedisManager):
    """python-socketio's Redis manager that survives Redis outages (see the module doc)."""

    name = "guichet-redis"

    def __init__(
        self, url: str, channel: str, *, write_only: bool = False, retry_seconds: float = 2.0
    ) -> None:
        super().__init__(url, channel=channel, write_only=write_only)
        self.retry_seconds = max(float(retry_seconds), 0.05)
        self._publisher: Any = None
        self._publish_lock = threading.Lock()
        self._publish_down_since: float | None = None

    # --- publishing ---------------------------------------------------------------

    def _publish(self, data: Any) -> Any:
        # emit() has already delivered the event to this process's clients. While
        # Redis is down, nothing is tried here (a request never waits for it): a
        # probe thread watches for its return.
        if self._publish_down_since is not None:
            return None
        try:
            publisher = self._publisher
            if publisher is None:
                publisher = self._publisher = redis_client(self.redis_url)
            return publisher.publish(self.channel, self.json.dumps(data))
        except Exception as error:
            self._publishing_failed(error)
            return None

    def _publishing_failed(self, error: Exception) -> None:
        with self._publish_lock:
            self._publisher = None
            if self._publish_down_since is not None:
                return
            self._publish_down_since = time.monotonic()
        log.warning(
            "realtime: cannot publish to Redis (%s); events reach this process's screens "
            "only until it returns",
            error,
        )
        threading.Thread(
            target=self._probe_publisher, name="queue-app-redis-probe", daemon=True
        ).start()

    def _probe_publisher(self) -> None:
        """Until Redis answers again; then publish as usual and have the others resync."""
        while True:
            time.sleep(self.retry_seconds)
            client = redis_client(self.redis_url)
            try:
                client.ping()
            except Exception:
                client.close()
                continue
            with self._publish_lock:
                self._publisher = client
                since, self._publish_down_since = self._publish_down_since, None
            log.info(
                "realtime: publishing to Redis again after %.0f s",
                time.monotonic() - (since or time.monotonic()),
            )
            # What this process emitted meanwhile reached its own screens only: the
            # other processes' screens fetch their state again. Asked once publishing
            # is on again, so an event is either published or committed before this.
            self._publish(
                {"method": "resync", "reason": "peer_reconnected", "host_id": self.host_id}
            )
            return

    # --- listening --------------------------------------------------------------------

    def _redis_listen_with_retries(self) -> Iterator[dict[str, Any]]:
        delay = 0.1
        lost_at: float | None = None
        while True:
            pubsub = None
            try:
                # Reads wait at most a second, and an idle connection is pinged every
                # few seconds: a Redis that vanished without closing the connection
                # (a network cut) is noticed too, not only one that closed it.
                client = redis_client(self.redis_url, socket_timeout=None, health_check_interval=5)
                pubsub = client.pubsub(ignore_subscribe_messages=False)
                pubsub.subscribe(self.channel)
                while True:
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message.get("type") == "subscribe":
                        reason = "redis_reconnected" if lost_at is not None else "subscribed"
                        if lost_at is not None:
                            log.info(
                                "realtime: subscribed to Redis again after %.0f s; asking this "
                                "process's screens to resync",
                                time.monotonic() - lost_at,
                            )
                        lost_at, delay = None, 0.1
                        self.resync(reason)
                        continue
                    yield message
            except Exception as error:
                if lost_at is None:
                    lost_at = time.monotonic()
                    log.warning(
                        "realtime: lost the Redis subscription (%s); events of other "
                        "processes are missed until it returns (retrying every %g s at most)",
                        error,
                        self.retry_seconds,
                    )
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):  # already broken: nothing to do
                        pubsub.close()
            time.sleep(delay)
            delay = min(delay * 2, self.retry_seconds)

    def _listen(self) -> Iterator[Any]:
        channel = self.channel.encode("utf-8")
        for message in self._redis_listen_with_retries():
            if message.get("channel") != channel or message.get("type") != "message":
                continue
            data = message["data"]
            if b'"disconnect_room"' in data or b'"resync"' in data:
                # Guichet's own messages (an emit whose data has these words goes on).
                decoded = self.json.loads(data)
                if decoded.get("method") == "disconnect_room":
                    self._handle_disconnect_room(decoded)
                    continue
                if decoded.get("method") == "resync":
                    if decoded.get("host_id") != self.host_id:
                        self.resync(str(decoded.get("reason") or "peer_reconnected"))
                    continue
            yield data

    def resync(self, reason: str) -> None:
        """Ask every client of this process (not of the others) to fetch its state again."""
        if self.server is None:
            return
        try:
            self.server.emit(RESYNC, {"reason": reason}, namespace=NAMESPACE, ignore_queue=True)
        except Exception:
            log.warning("realtime: resync emit failed", exc_info=True)

    # --- dropping connections ------------------------------------------------------------

    def disconnect_room(self, room: str, namespace: str = NAMESPACE) -> None:
        """Disconnect everyone in ``room``, on this process and (through Redis) the others."""
        message = {
            "method": "disconnect_room",
            "room": room,
            "namespace": namespace,
            "host_id": self.host_id,
        }
        if self.server is not None:
            disconnect_local(self.server, room, namespace)
        self._publish(message)

    def _handle_disconnect_room(self, message: dict[str, Any]) -> None:
        if message.get("host_id") == self.host_id or self.server is None:
            return
        try:
            disconnect_local(self.server, str(message["room"]), message.get("namespace") or "/")
        except Exception:
            log.warning("realtime: disconnecting room %s failed", message, exc_info=True)


def disconnect_local(server: Any, room: str, namespace: str = NAMESPACE) -> None:
    """Disconnect the clients of this process that are in ``room``."""
    for sid, _ in list(server.manager.get_participants(namespace, room)):
        server.disconnect(sid, namespace=namespace, ignore_queue=True)


def disconnect_room(server: Any, room: str, namespace: str = NAMESPACE) -> None:
    """Disconnect everyone in ``room``: on every process when Redis links them."""
    manager = server.manager
    if isinstance(manager, GuichetRedisManager):
        manager.disconnect_room(room, namespace)
    else:
        disconnect_local(server, room, namespace)


def client_manager(app: Flask, *, write_only: bool = False) -> Any:
    """The Socket.IO client manager of this app: over Redis when REDIS_URL is set."""
    url = app.config.get("REDIS_URL") or None
    if not url:
        return socketio.Manager()
    return GuichetRedisManager(
        url,
        channel=str(app.config["SOCKETIO_CHANNEL"]),
        write_only=write_only,
        retry_seconds=float(app.config.get("REDIS_RETRY_SECONDS", 2)),
    )
