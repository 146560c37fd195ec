"""Publishing realtime events on Redis without a Socket.IO server (the worker's emitter).

The server processes relay what is published on the Socket.IO channel to their
clients (:class:`queue_app.realtime.redis_queue.GuichetRedisManager`). A process with no
clients of its own, the worker, only publishes: :class:`RedisEmitter` writes the
messages python-socketio's write-only Redis manager would write, and rides out
Redis outages the same way (:class:`RedisPublisher`, shared with the servers'
manager). It does not import python-socketio, whose package loads its asyncio
clients and servers (aiohttp...): some 20 MB that a scheduler process never uses.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from typing import Any

log = logging.getLogger("queue_app.realtime.redis_queue")

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


class RedisPublisher:
    """Publishing on the Socket.IO channel that never stalls the caller.

    One quick attempt (2 s timeouts, no backoff loop); once it failed, nothing
    is tried on Redis while a probe thread pings it every ``retry_seconds``.
    The outage is logged once when it starts and once when it ends. When
    publishing works again, the other processes are asked to have their
    screens resync (what was published meanwhile was lost).

    Expects ``redis_url``, ``channel``, ``host_id``, ``json`` and
    ``retry_seconds``; :meth:`_init_publisher` sets its own state.
    """

    redis_url: str
    channel: str
    host_id: str
    json: Any
    retry_seconds: float

    def _init_publisher(self, retry_seconds: float) -> None:
        self.retry_seconds = max(float(retry_seconds), 0.05)
        self._publisher: Any = None
        self._publish_lock = threading.Lock()
        self._publish_down_since: float | None = None

    def _publish(self, data: Any) -> Any:
        # While Redis is down, nothing is tried here (a request never waits for
        # it): a probe thread watches for its return.
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


class RedisEmitter(RedisPublisher):
    """A write-only emitter: events and room disconnections go to the servers through Redis.

    Publishes what ``socketio.RedisManager(write_only=True).emit`` publishes (a
    test compares both), and Guichet's own ``disconnect_room`` message.
    """

    def __init__(self, url: str, channel: str, *, retry_seconds: float = 2.0) -> None:
        self.redis_url = url
        self.channel = channel
        self.host_id = uuid.uuid4().hex
        self.json = json
        self._init_publisher(retry_seconds)

    def emit(self, event: str, data: Any, to: str | None = None, namespace: str = NAMESPACE) -> Any:
        """Emit ``event`` to the clients in room ``to`` (all clients when None), on every server."""
        message = {
            "method": "emit",
            "event": event,
            "data": list(data) if isinstance(data, tuple) else [data],
            "binary": False,
            "namespace": namespace or NAMESPACE,
            "room": to,
            "skip_sid": None,
            "callback": None,
            "host_id": self.host_id,
        }
        return self._publish(message)

    def disconnect_room(self, room: str, namespace: str = NAMESPACE) -> None:
        """Disconnect everyone in ``room`` on every server process."""
        self._publish(
            {
                "method": "disconnect_room",
                "room": room,
                "namespace": namespace,
                "host_id": self.host_id,
            }
        )
