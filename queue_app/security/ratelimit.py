"""Rate limits: sign-in limits per account and per address, and a Flask-Limiter without hooks.

Sign-in limits count password checks in the views that make them (the web
form and POST /api/v1/auth/token), with the ``limits`` library that
Flask-Limiter is built on:

* per account: every attempt counts, and a successful sign-in clears the
  count. Guessing one account's password stops after a few tries, from any
  address, and only that account waits;
* per address: failed attempts count, and the bound is far above what a
  whole office does. An office behind one NAT address signs in at 08:00 as
  usual, typos included (successes cost nothing), while one client trying
  many accounts is stopped;
* a browser that signed in to an account before (web/known_browsers.py) is
  counted on its own for that account: its attempts count neither against
  the account's shared count nor against the address, so a stranger's
  guesses or a neighbour's spray never keep the office's own browsers out.

Counts live in Redis in production (``RATELIMIT_STORAGE_URI``, shared by the
server processes). When Redis does not answer, sign-in goes on and counts in
this process's memory; Redis is tried again after
``RATELIMIT_STORAGE_RETRY_SECONDS``. Each outage is logged once, when it
starts and when it ends.

Flask-Limiter's own extension runs a ``before_request`` hook on every request
of the app to find out whether a limit applies; :class:`Limiter` removes it, so
limits declared with ``@limiter.limit`` are checked by the views they decorate
only, and every other request pays nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, cast

import flask
import flask_limiter
from flask import Flask
from flask.globals import request_ctx
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

EXTENSION_KEY = "signin_limits"
T = TypeVar("T")
ACCOUNT = "account"
ADDRESS = "address"


class Wait(NamedTuple):
    """A refused sign-in: the seconds to wait, and which limit was reached."""

    seconds: int
    limit: str  # ACCOUNT or ADDRESS


class Counts:
    """Moving-window counts in the rate-limit store, or in memory while it is down.

    The base of :class:`SignInLimits` and of the lookup limits (lookup_limits.py):
    keys are keyed hashes (no e-mail or address in clear in Redis), each outage
    of the store is logged once.
    """

    name = "limits"  # in the keys
    label = "rate"  # in the log

    def __init__(self, app: Flask) -> None:
        config = app.config
        self.enabled = bool(config.get("RATELIMIT_ENABLED", True))
        self.prefix = str(config.get("RATELIMIT_KEY_PREFIX") or "guichet")
        self.config = config
        self._secret = str(config["SECRET_KEY"]).encode()
        uri = str(config["RATELIMIT_STORAGE_URI"])
        self._memory = MemoryStorage()
        self._store: Storage = self._memory
        if not uri.startswith("memory://"):
            # For Redis, config.py puts fail-fast options here: sign-in must not
            # hang on a Redis that does not answer.
            options: dict[str, Any] = dict(config.get("RATELIMIT_STORAGE_OPTIONS") or {})
            self._store = cast(Storage, storage_from_string(uri, wrap_exceptions=True, **options))
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._retry_at = 0.0

    @property
    def storage_down(self) -> bool:
        """Whether the shared store failed and counts are kept in memory meanwhile."""
        return self._down_since is not None

    def _key(self, kind: str, value: str) -> tuple[str, ...]:
        digest = hmac.new(self._secret, value.strip().lower().encode(), hashlib.sha256)
        return (self.prefix, self.name, kind, digest.hexdigest()[:32])

    @staticmethod
    def _wait(
        strategy: MovingWindowRateLimiter,
        items: list[RateLimitItem],
        key: tuple[str, ...],
        *,
        test_only: bool = False,
    ) -> int:
        for item in items:
            allowed = strategy.test(item, *key) if test_only else strategy.hit(item, *key)
            if not allowed:
                reset, _ = strategy.get_window_stats(item, *key)
                return max(math.ceil(reset - time.time()), 1)
        return 0

    def _run(self, operation: Callable[[MovingWindowRateLimiter], T]) -> T:
        """Run on the shared store, or in memory while it is down (logged once per outage)."""
        store = self._store
        if store is not self._memory and self._use_shared_store():
            try:
                result = operation(MovingWindowRateLimiter(store))
            except Exception as error:
                self._went_down(error)
            else:
                self._came_back()
                return result
        return operation(MovingWindowRateLimiter(self._memory))

    def _use_shared_store(self) -> bool:
        if self._down_since is None:
            return True
        return time.monotonic() >= self._retry_at

    def _went_down(self, error: Exception) -> None:
        retry = float(self.config.get("RATELIMIT_STORAGE_RETRY_SECONDS", 10))
        with self._lock:
            self._retry_at = time.monotonic() + retry
            if self._down_since is not None:
                return
            self._down_since = time.monotonic()
        cause = getattr(error, "storage_error", error)
        log.warning(
            "%s limits: the rate-limit store does not answer (%s); counting in this "
            "process's memory until it returns",
            self.label,
            cause,
        )

    def _came_back(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            since, self._down_since = self._down_since, None
        if since is not None:
            log.info(
                "%s limits: the rate-limit store answers again after %.0f s",
                self.label,
                time.monotonic() - since,
            )


class SignInLimits(Counts):
    """Counts password checks per account and per client address; says how long to wait."""

    name = "signin"
    label = "sign-in"

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self.per_account = parse_many(str(app.config["SIGNIN_LIMIT_ACCOUNT"]))
        self.per_address = parse_many(str(app.config["SIGNIN_LIMIT_ADDRESS"]))

    # --- what the views call ---------------------------------------------------------

    def attempt(self, account: str, address: str, browser: str | None = None) -> Wait | None:
        """Count a password check about to be made; None, or how long to wait first and why.

        The address is only tested (its failures are counted by :meth:`failed`);
        the account's attempt is counted at once, atomically, so parallel guesses
        cannot all slip under the limit. ``browser``: the id of a browser that
        signed in to this account before; its attempts are counted on their own,
        and the address is not tested.
        """
        if not self.enabled:
            return None

        def run(strategy: MovingWindowRateLimiter) -> Wait | None:
            if browser is None:
                address_key = self._key("address", address)
                wait = self._wait(strategy, self.per_address, address_key, test_only=True)
                if wait:
                    return Wait(wait, ADDRESS)
            wait = self._wait(strategy, self.per_account, self._account_key(account, browser))
            return Wait(wait, ACCOUNT) if wait else None

        return self._run(run)

    def failed(self, address: str, browser: str | None = None) -> None:
        """Count a failed password check against the client's address (not a known browser's)."""
        if not self.enabled or browser is not None:
            return

        def run(strategy: MovingWindowRateLimiter) -> None:
            key = self._key("address", address)
            for item in self.per_address:
                strategy.hit(item, *key)

        self._run(run)

    def succeeded(self, account: str, browser: str | None = None) -> None:
        """A right password: the account's count (or this browser's for it) starts again."""
        if not self.enabled:
            return

        def run(strategy: MovingWindowRateLimiter) -> None:
            key = self._account_key(account, browser)
            for item in self.per_account:
                strategy.clear(item, *key)

        self._run(run)

    def _account_key(self, account: str, browser: str | None) -> tuple[str, ...]:
        if browser is None:
            return self._key("account", account)
        return self._key("browser", f"{account.strip().lower()}\n{browser}")


def signin_limits() -> SignInLimits:
    """The sign-in limits of the current app."""
    limits: SignInLimits = flask.current_app.extensions[EXTENSION_KEY]
    return limits


def install_signin_limits(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = SignInLimits(app)


class Limiter(flask_limiter.Limiter):
    """Flask-Limiter, minus the hooks it runs on every request of the app.

    Limits are declared on the views they protect (``@limiter.limit(...)``),
    whose wrapper checks them; application-wide and blueprint-wide limits are
    not used. The headers and conditional deductions of a limited view are
    still done after it, and only after it.
    """

    def init_app(self, app: Flask) -> None:
        super().init_app(app)
        stock = flask_limiter.Limiter

        def ours(hook: Any) -> bool:
            if getattr(hook, "__self__", None) is self:  # before_request, teardown_request
                return True
            # after_request is functools.partial(Limiter.__inject_headers, self)
            return getattr(hook, "func", None) is stock._Limiter__inject_headers  # type: ignore[attr-defined]

        registries: list[dict[Any, list[Any]]] = [
            app.before_request_funcs,
            app.after_request_funcs,
            app.teardown_request_funcs,
        ]
        for registry in registries:
            registry[None] = [hook for hook in registry.get(None, []) if not ours(hook)]
        if not app.extensions.get("guichet_limiter_after"):
            app.after_request(self._after_limited_view)
            app.extensions["guichet_limiter_after"] = True

    def _after_limited_view(self, response: flask.Response) -> flask.Response:
        # Flask-Limiter keeps its per-request state on the request context; it
        # exists only when a limited view ran.
        if not hasattr(request_ctx._get_current_object(), "_limiter_request_context"):  # type: ignore[attr-defined]
            return response
        return self._Limiter__inject_headers(response)  # type: ignore[attr-defined]
