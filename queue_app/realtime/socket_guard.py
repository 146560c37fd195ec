"""A bound on the Socket.IO connections one address holds open (WSGI middleware).

A WebSocket holds its WSGI request for its whole life (and a long-poll client
at most one request at a time), so counting the requests in flight under
``/socket.io/`` per client address counts its open connections. Over the
limit, the handshake is answered 429 at once: one address (a script, a
misbehaving page) cannot exhaust the server's connections, and a waiting room
of phones behind one office router still fits under the default.
The count is per server process (a reverse proxy with ``ip_hash`` keeps an
address on one process).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SocketGuard:
    def __init__(self, app: WSGIApp, limit: int, path: str = "/socket.io") -> None:
        self.app = app
        self.limit = limit
        self.path = path
        self.open: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if self.limit <= 0 or not str(environ.get("PATH_INFO", "")).startswith(self.path):
            return self.app(environ, start_response)
        address = str(environ.get("REMOTE_ADDR") or "-")
        with self.lock:
            held = self.open.get(address, 0)
            if held >= self.limit:
                refused = True
            else:
                refused = False
                self.open[address] = held + 1
        if refused:
            log.warning("refused a realtime connection: %s holds %d open", address, held)
            start_response(
                "429 Too Many Requests",
                [("Content-Type", "text/plain; charset=utf-8"), ("Retry-After", "30")],
            )
            return [b"Too many open connections from this address.\n"]
        try:
            result = self.app(environ, start_response)
        except BaseException:
            self._release(address)
            raise
        return _Closing(result, lambda: self._release(address))

    def count(self, address: str) -> int:
        """How many connections an address holds open now (for tests and logs)."""
        with self.lock:
            return self.open.get(address, 0)

    def _release(self, address: str) -> None:
        with self.lock:
            left = self.open.get(address, 0) - 1
            if left > 0:
                self.open[address] = left
            else:
                self.open.pop(address, None)


class _Closing:
    """The response body, releasing the slot once the server is done with it."""

    def __init__(self, body: Iterable[bytes], release: Callable[[], None]) -> None:
        self.body = body
        self.release = release
        self.released = False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            if not self.released:
                self.released = True
                self.release()
