"""Database outages: 503 with Retry-After, one log line when it starts and one when it ends.

When PostgreSQL cannot be reached (stopped, restarting, network cut), every
request fails the same way. Instead of a 500 and a traceback per request
(1,540 in ten seconds, measured), the API answers 503
``{"error": {"code": "unavailable", ...}}`` with ``Retry-After``, pages answer a
page saying the service is briefly unavailable (it reloads by itself), and the
log says once that the database is unreachable and once that it is back.
Nothing needs a restart: the pool pings a connection before use (on
PostgreSQL, one that sat idle for a second: database.py), drops the pool when
a connection dies under a statement, and opens new ones once the database
answers again.

Only failures to reach the database count (a connection that cannot be made
or that died); a bad query is still a bug, answered 500 and logged in full.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from flask import Flask, current_app, render_template
from flask_babel import gettext as _
from sqlalchemy import event
from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)

EXTENSION_KEY = "database_outage"


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot be reached (rather than a bad query)."""
    if isinstance(error, sa_exc.TimeoutError):
        return True  # no connection free in the pool for pool_timeout seconds
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True  # the connection died under a statement
    # No statement ran: the connection itself could not be made.
    return error.statement is None and isinstance(
        error, sa_exc.OperationalError | sa_exc.InterfaceError
    )


class DatabaseOutage:
    """Whether the database is known to be unreachable, since when, and how often it refused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.refused = 0

    def failed(self, error: BaseException) -> None:
        """A request could not reach the database: logged only when the outage starts."""
        with self._lock:
            self.refused += 1
            if self.down_since is not None:
                return
            self.down_since = time.monotonic()
            self.refused = 1
        cause = getattr(error, "orig", None) or error
        log.error(
            "database unreachable (%s); answering 503 until it answers again",
            str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__,
        )

    def recovered(self) -> None:
        """A connection was checked out alive: the outage, if any, is over."""
        if self.down_since is None:
            return
        with self._lock:
            since, self.down_since = self.down_since, None
            refused = self.refused
        if since is not None:
            log.warning(
                "database reachable again after %.0f s (%d request(s) answered 503 meanwhile)",
                time.monotonic() - since,
                refused,
            )


def outage_of(app: Flask) -> DatabaseOutage:
    outage: DatabaseOutage = app.extensions[EXTENSION_KEY]
    return outage


def note_failure(error: BaseException) -> None:
    """Record an unreachable database for the current app (readiness probe, sockets)."""
    outage_of(current_app).failed(error)


def unavailable_response(error: BaseException, *, outage: bool = True) -> Any:
    """503 for this request: JSON under /api/ (and for JSON clients), a page for people.

    ``outage``: the database cannot be reached (logged once, until it answers
    again); else it is only busy for this request.
    """
    from ..api.errors import error_response, wants_json
    from ..extensions import db, login_manager

    if outage:
        outage_of(current_app).failed(error)
    with contextlib.suppress(Exception):  # the connection is gone already
        db.session.rollback()
    # Nothing below may look the user up in the database that is down (the
    # language of the message, the page's header): the request goes on anonymous.
    login_manager._update_request_context_with_user()
    retry_after = int(current_app.config.get("UNAVAILABLE_RETRY_AFTER", 5))
    headers = {"Retry-After": str(retry_after)}
    message = _("The service is briefly unavailable. Try again in a few seconds.")
    if wants_json():
        response = error_response(503, "unavailable", message, {"retry_after": retry_after})
        response.headers.update(headers)
        return response
    page = render_template("unavailable.html", retry_after=retry_after, message=message)
    return page, 503, headers


def handle_database_error(error: sa_exc.SQLAlchemyError) -> Any:
    """503 when the database cannot be reached or is too busy; any other error is a 500."""
    from .database import WriterBusy

    if isinstance(error, WriterBusy):
        log.warning("%s: answered 503", error)
        return unavailable_response(error, outage=False)
    if is_unavailable(error):
        return unavailable_response(error)
    from ..api.errors import handle_unexpected

    return handle_unexpected(error)


def install(app: Flask) -> None:
    """Track this app's database outages and answer them with 503."""
    from ..extensions import db

    outage = DatabaseOutage()
    app.extensions[EXTENSION_KEY] = outage
    app.register_error_handler(sa_exc.SQLAlchemyError, handle_database_error)
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "checkout")
    def _alive(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        # A checked-out connection passed its pre-ping: the database answers.
        if outage.down_since is not None:
            outage.recovered()
