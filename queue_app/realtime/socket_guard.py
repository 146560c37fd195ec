"""A bound on the anonymous Socket.IO connections one address holds open (WSGI middleware).

A WebSocket holds its WSGI request for its whole life (and a long-poll client
at most one request at a time), so counting the requests in flight under
``/socket.io/`` per client address counts its open connections. Over the
limit, the handshake is answered 429 at once: one address (a script, a
misbehaving page) cannot exhaust the server's connections, and a waiting room
of phones behind one office router still fits under the default.

Only anonymous connections (tracking pages) count towards the bound. A paired
device (display, counter screen, kiosk, tablet, print agent) or a signed-in
user shows its credentials with the handshake itself (its token in the query
or an ``Authorization: Bearer`` header, or the session cookie of the console),
and is never refused because phones behind the same router hold every
anonymous place. The credentials are checked here (:func:`signed_in_check`),
and once more by the Socket.IO connect handler.
The count is per server process (a reverse proxy with ``ip_hash`` keeps an
address on one process).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Environ = dict[str, Any]


class SocketGuard:
    def __init__(
        self,
        app: WSGIApp,
        limit: int,
        path: str = "/socket.io",
        is_signed_in: Callable[[Environ], bool] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.path = path
        self.is_signed_in = is_signed_in
        # Per address: anonymous connections (bounded), and those of devices and users.
        self.open: dict[str, int] = {}
        self.signed_in: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: Callable[..., Any]) -> Any:
        if self.limit <= 0 or not str(environ.get("PATH_INFO", "")).startswith(self.path):
            return self.app(environ, start_response)
        address = str(environ.get("REMOTE_ADDR") or "-")
        counts = self.open
        if self.is_signed_in is not None and self.is_signed_in(environ):
            counts = self.signed_in
        with self.lock:
            held = counts.get(address, 0)
            refused = counts is self.open and held >= self.limit
            if not refused:
                counts[address] = held + 1
        if refused:
            log.warning("refused a realtime connection: %s holds %d anonymous open", address, held)
            start_response(
                "429 Too Many Requests",
                [("Content-Type", "text/plain; charset=utf-8"), ("Retry-After", "30")],
            )
            return [b"Too many open connections from this address.\n"]
        try:
            result = self.app(environ, start_response)
        except BaseException:
            self._release(counts, address)
            raise
        return _Closing(result, lambda: self._release(counts, address))

    def count(self, address: str) -> int:
        """How many anonymous connections an address holds open now (for tests and logs)."""
        with self.lock:
            return self.open.get(address, 0)

    def count_signed_in(self, address: str) -> int:
        """How many connections of devices and signed-in users an address holds open now."""
        with self.lock:
            return self.signed_in.get(address, 0)

    def _release(self, counts: dict[str, int], address: str) -> None:
        with self.lock:
            left = counts.get(address, 0) - 1
            if left > 0:
                counts[address] = left
            else:
                counts.pop(address, None)


def signed_in_check(app: Flask) -> Callable[[Environ], bool]:
    """Whether a realtime request carries valid credentials: a device's or user's token (query
    ``token`` or ``Authorization: Bearer``), or a signed-in user's session or "stay signed in"
    cookie.

    A request without any of these is answered at once (no context, no query): the
    phones of a waiting room pay nothing.
    """
    session_cookie = str(app.config.get("SESSION_COOKIE_NAME") or "session") + "="
    remember_cookie = str(app.config.get("REMEMBER_COOKIE_NAME") or "remember_token") + "="

    def is_signed_in(environ: Environ) -> bool:
        query = str(environ.get("QUERY_STRING") or "")
        cookies = str(environ.get("HTTP_COOKIE") or "")
        bearer = str(environ.get("HTTP_AUTHORIZATION") or "").lower().startswith("bearer ")
        if not (
            bearer or "token=" in query or session_cookie in cookies or remember_cookie in cookies
        ):
            return False
        try:
            with app.request_context(environ):
                return _principal_of_request() is not None
        except Exception as error:  # an outage: the connection is then counted as anonymous
            log.debug("realtime credentials not checked: %s", error)
            return False

    return is_signed_in


def _principal_of_request() -> Any:
    from flask import request
    from flask_login import current_user

    from ..extensions import db
    from ..infra.database import read_only
    from ..queue.accounts import resolve_token_cached

    scheme, _, header_token = request.headers.get("Authorization", "").partition(" ")
    token = request.args.get("token") or (header_token if scheme.lower() == "bearer" else "")
    with read_only():  # on SQLite, no writer lock for this look-up
        if token.strip():
            return resolve_token_cached(db.session(), token.strip())
        return current_user if current_user.is_authenticated else None


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
