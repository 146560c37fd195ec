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
import time
from collections.abc import Iterator
from typing import Any

import socketio
from flask import Flask

from .redis_publish import NAMESPACE, RedisPublisher, fail_fast_options, redis_client

__all__ = ["GuichetRedisManager", "client_manager", "fail_fast_options", "redis_client"]

log = logging.getLogger(__name__)

RESYNC = "resync"


class GuichetRedisManager(RedisPublisher, socketio.RedisManager):
    """python-socketio's Redis manager that survives Redis outages (see the module doc)."""

    name = "guichet-redis"

    def __init__(
        self, url: str, channel: str, *, write_only: bool = False, retry_seconds: float = 2.0
    ) -> None:
        super().__init__(url, channel=channel, write_only=write_only)
        # emit() delivers an event to this process's clients, then calls _publish
        # (RedisPublisher's: fail fast, probe thread, resync when Redis is back).
        self._init_publisher(retry_seconds)

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
