"""Limits on guessing codes: every public look-up by a ticket code or a reference.

A tracking code, an appointment reference or a complaint reference opens its
ticket, appointment or complaint to whoever holds it (an appointment can then
be cancelled). Answering every guess would let a script find valid codes by
trying them all: with 5,000 live appointments, one six-letter reference in 25
minutes at 120 tries a second. So every public look-up by code (the tracking
page and API, its rating, the appointment API, the booking page's "find my
appointment" and confirmation pages, the complaint status page, the kiosk's QR
image, and the Socket.IO ``track`` event) goes through these limits:

* only look-ups of codes that do not exist count (a tracking page polled by
  the 200 phones of a waiting room behind one NAT address costs nothing, since
  their codes exist), per client address (LOOKUP_LIMIT_ADDRESS): an address
  over its budget waits (429, Retry-After) for every look-up, so it learns
  nothing more, and a typo or two never comes near it;
* the same failures count everywhere (LOOKUP_LIMIT_GLOBAL): guesses spread over
  many addresses still add up. Over that budget, an address that has failed a
  look-up within its own window waits too, while addresses that have not
  (citizens with their right codes) go on as usual.

Signed-in users and devices (an API token, the console's session) are not
counted: they are known, and their accounts can be closed.

Counts live in the rate-limit store (Redis when set, shared by the server
processes), with the fallback to memory of the sign-in limits (ratelimit.py).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

import flask
from flask import Flask, request
from limits import parse_many
from limits.strategies import MovingWindowRateLimiter
from werkzeug.exceptions import HTTPException

from ..queue.errors import NotFound
from .ratelimit import Counts

log = logging.getLogger(__name__)

EXTENSION_KEY = "lookup_limits"
F = TypeVar("F", bound=Callable[..., Any])


class LookupLimits(Counts):
    """Counts failed look-ups by code per client address and everywhere; says how long to wait."""

    name = "lookup"
    label = "lookup"

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self.per_address = parse_many(str(app.config["LOOKUP_LIMIT_ADDRESS"]))
        self.everywhere = parse_many(str(app.config["LOOKUP_LIMIT_GLOBAL"]))

    def check(self, address: str) -> int:
        """0 when the address may look a code up now, else the seconds to wait."""
        if not self.enabled:
            return 0

        def run(strategy: MovingWindowRateLimiter) -> int:
            key = self._key("address", address)
            wait = self._wait(strategy, self.per_address, key, test_only=True)
            if wait:
                return wait
            wait = self._wait(strategy, self.everywhere, self._everywhere(), test_only=True)
            if wait and self._has_failed(strategy, key):
                return wait
            return 0

        return self._run(run)

    def failed(self, address: str) -> None:
        """Count a look-up of a code that does not exist, against the address and everywhere."""
        if not self.enabled:
            return

        def run(strategy: MovingWindowRateLimiter) -> None:
            key = self._key("address", address)
            for item in self.per_address:
                strategy.hit(item, *key)
            for item in self.everywhere:
                strategy.hit(item, *self._everywhere())

        self._run(run)
        log.debug("look-up of an unknown code from %s", _masked(address))

    def _everywhere(self) -> tuple[str, ...]:
        return (self.prefix, self.name, "everywhere")

    def _has_failed(self, strategy: MovingWindowRateLimiter, key: tuple[str, ...]) -> bool:
        """Whether the address failed a look-up within its windows."""
        for item in self.per_address:
            _reset, remaining = strategy.get_window_stats(item, *key)
            if remaining < item.amount:
                return True
        return False


def _masked(address: str) -> str:
    """An address as logged: its network, not the subscriber (a.b.c.x, or the first groups)."""
    if ":" in address:
        return ":".join(address.split(":")[:3]) + ":…"
    parts = address.split(".")
    return ".".join(parts[:3] + ["x"]) if len(parts) == 4 else "-"


def install_lookup_limits(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = LookupLimits(app)


def lookup_limits() -> LookupLimits:
    """The look-up limits of the current app."""
    return cast(LookupLimits, flask.current_app.extensions[EXTENSION_KEY])


def caller_is_known() -> bool:
    """Whether the request comes from a signed-in user or a device (API token or session)."""
    if request.headers.get("Authorization"):
        from ..api import principal

        return principal() is not None
    from flask_login import current_user

    return bool(current_user.is_authenticated)


def _is_not_found(outcome: Any) -> bool:
    if isinstance(outcome, NotFound):
        return True
    if isinstance(outcome, HTTPException):
        return outcome.code == 404
    if isinstance(outcome, flask.Response):
        return outcome.status_code == 404
    if isinstance(outcome, tuple) and len(outcome) >= 2:
        status = outcome[1]
        return status == 404 or (isinstance(status, str) and status.startswith("404"))
    return False


def guards_lookup(
    refused: Callable[..., Any], *, methods: tuple[str, ...] | None = None
) -> Callable[[F], F]:
    """Decorator of a public view that looks something up by a code given by the caller.

    Before the view: an address over its budget gets ``refused(wait, **view_args)``
    (a 429 in the caller's language). After it: a 404 (raised or answered) counts
    as a failed look-up. Signed-in users and devices pass untouched, and so do
    requests whose method is not in ``methods`` (when given).
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if (methods is not None and request.method not in methods) or caller_is_known():
                return view(*args, **kwargs)
            limits = lookup_limits()
            address = request.remote_addr or ""
            wait = limits.check(address)
            if wait:
                return refused(wait, **kwargs)
            try:
                answer = view(*args, **kwargs)
            except Exception as error:
                if _is_not_found(error):
                    limits.failed(address)
                raise
            if _is_not_found(answer):
                limits.failed(address)
            return answer

        return cast(F, guarded)

    return decorator


# --- what a refused caller gets ------------------------------------------------------------


def minutes(wait: int) -> int:
    return max((wait + 59) // 60, 1)


def refused_api(wait: int, **_view_args: Any) -> Any:
    """429 as the API's error JSON (api/errors.py), with Retry-After."""
    from werkzeug.exceptions import TooManyRequests

    raise TooManyRequests(retry_after=wait)


def refused_page(wait: int, **_view_args: Any) -> Any:
    """A page for a person: why, what to check, and when to come back."""
    page = flask.render_template("public/too_many_lookups.html", minutes=minutes(wait))
    return page, 429, {"Retry-After": str(wait), "Cache-Control": "no-store"}


def refused_image(wait: int, **_view_args: Any) -> Any:
    return flask.Response(
        "Too many unknown codes from this address.\n",
        status=429,
        mimetype="text/plain",
        headers={"Retry-After": str(wait)},
    )
