"""Socket.IO: who connects, which rooms they join, and the sync/track requests.

Displays join ``site:<slug>``; agents and managers join ``agents:<slug>`` of
their sites; a tracking page connects without credentials and emits ``track``.
Events themselves are emitted by events.py only. Every handler here only reads
(database.reads_only): on SQLite a connecting or syncing screen never waits
for, nor holds, the writer lock.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from flask import Flask, current_app, request, session
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db, socketio
from ..infra.database import reads_only
from ..infra.outages import is_unavailable, note_failure
from ..models import Counter, Device, DeviceKind, Role, Site, User
from ..ops.devices import book_of
from ..queue import errors
from ..queue.accounts import resolve_token
from ..queue.sites import get_site
from ..queue.tickets import get_ticket_by_code
from ..screens import counter_state, display_board, server_version
from ..security.lookup_limits import lookup_limits
from ..security.permissions import belongs_to
from . import events

log = logging.getLogger(__name__)
PRINCIPAL_KEY = "rt_principal"


def _authenticate(auth: Any) -> User | Device | None:
    token = None
    if isinstance(auth, dict):
        token = auth.get("token")
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    token = token or request.args.get("token") or (bearer if scheme.lower() == "bearer" else None)
    if token:
        found = resolve_token(db.session, str(token))
        if found is None:
            raise ConnectionRefusedError("unauthorized")
        return found
    if current_user.is_authenticated:
        return db.session.get(User, int(current_user.get_id()))
    return None


@socketio.on("connect")
@reads_only
def on_connect(auth: Any = None) -> None:
    try:
        principal = _authenticate(auth)
    except SQLAlchemyError as error:
        if not is_unavailable(error):
            raise
        # The database is down: refused for now; the screen retries (with backoff).
        note_failure(error)
        raise ConnectionRefusedError("unavailable") from None
    if isinstance(principal, Device):
        site = principal.site
        codes = [service.code for service in principal.services]
        counter_id = None
        # Its connections drop when its token is revoked or rotated.
        join_room(events.device_room(principal.id))
        if principal.kind == DeviceKind.DISPLAY:
            counter_id = _display_room(principal, auth)
        elif principal.kind == DeviceKind.PRINTER:
            join_room(events.printer_room(principal.id))
        elif principal.kind == DeviceKind.TABLET:
            _join_tablet_room(principal, auth)
        # Seen while this connection stays open (ops/devices.py).
        book_of(_this_app()).connected(_sid(), principal.id)
        session[PRINCIPAL_KEY] = {
            "device": principal.id,
            "site": site.slug,
            "kind": principal.kind.value,
            "services": codes or None,
            "counter": counter_id,
        }
    elif isinstance(principal, User):
        wanted = auth.get("site") if isinstance(auth, dict) else None
        sites = db.session.query(Site).all() if principal.role == Role.ADMIN else principal.sites
        slugs = [s.slug for s in sites if wanted in (None, s.slug)]
        # Its connections drop when the user's sessions end (password change, deactivation).
        join_room(events.user_room(principal.id))
        for slug in slugs:
            join_room(events.agents_room(slug))
        session[PRINCIPAL_KEY] = {"user": principal.id, "sites": slugs}
    else:
        session[PRINCIPAL_KEY] = {}


def _display_room(device: Device, auth: Any) -> int | None:
    """Put a display in its room: a counter's, its own (some services only), or its site's."""
    wanted = auth.get("counter") if isinstance(auth, dict) else None
    if wanted is not None:
        # The screen above a counter (display/<slug>/counters/<id>).
        counter = db.session.get(Counter, wanted) if isinstance(wanted, int) else None
        if counter is None or counter.site_id != device.site_id:
            raise ConnectionRefusedError("unknown counter")
        join_room(events.counter_room(counter.id))
        return counter.id
    if device.services:
        join_room(events.display_room(device.id))
    else:
        join_room(events.site_room(device.site.slug))
    return None


def _join_tablet_room(tablet: Device, auth: Any) -> None:
    """A satisfaction tablet joins the tablet room of its counter (auth {"counter": id})."""
    wanted = auth.get("counter") if isinstance(auth, dict) else request.args.get("counter")
    if wanted is None:
        return
    try:
        counter = db.session.get(Counter, int(wanted))
    except (TypeError, ValueError):
        return
    if counter is not None and counter.site_id == tablet.site_id:
        join_room(events.tablet_room(counter.id))


@socketio.on("disconnect")
def on_disconnect(reason: Any = None) -> None:
    """A device's connection closed: last seen now (nothing is read or written here)."""
    if "device" in (session.get(PRINCIPAL_KEY) or {}):
        book_of(_this_app()).disconnected(_sid())


@socketio.on("track")
@reads_only
def on_track(data: Any) -> dict:
    """Join ``ticket:<code>``; the answer is the ticket's current state."""
    from ..api.tickets import track_json

    code = str(data.get("code", "")) if isinstance(data, dict) else ""
    # A look-up by code, as GET /t/<code>: guessing is slowed (lookup_limits.py).
    counted = not (session.get(PRINCIPAL_KEY) or {})
    limits, address = lookup_limits(), request.remote_addr or ""
    if counted:
        wait = limits.check(address)
        if wait:
            return {
                "error": {
                    "code": "too_many_requests",
                    "message": "too many unknown codes from this address",
                    "details": {"retry_after": wait},
                }
            }
    try:
        ticket = get_ticket_by_code(db.session, code[:16])
    except errors.NotFound:
        if counted:
            limits.failed(address)
        return {"error": {"code": "not_found", "message": "unknown ticket"}}
    join_room(events.ticket_room(ticket.code))
    return track_json(ticket)


@socketio.on("sync")
@reads_only
def on_sync(data: Any = None) -> dict:
    """The board of the caller's site, so a reconnected screen shows current state."""
    who = session.get(PRINCIPAL_KEY) or {}
    if "device" in who and who.get("kind") != DeviceKind.DISPLAY.value:
        # As GET /sites/<slug>/board: displays and staff only.
        return {"error": {"code": "forbidden", "message": "not a display"}}
    slug = who.get("site")
    if slug is None and "user" in who:
        wanted = data.get("site") if isinstance(data, dict) else None
        slug = wanted if wanted in who.get("sites", []) else None
    if slug is None:
        return {"error": {"code": "forbidden", "message": "no site to sync"}}
    try:
        site = get_site(db.session, slug)
    except errors.NotFound:
        return {"error": {"code": "not_found", "message": "unknown site"}}
    if "user" in who:
        user = db.session.get(User, who["user"])
        if user is None or not belongs_to(user, site):
            return {"error": {"code": "forbidden", "message": "not your site"}}
    if who.get("counter") is not None:
        counter = db.session.get(Counter, who["counter"])
        if counter is None:
            return {"error": {"code": "not_found", "message": "unknown counter"}}
        return {
            "counter": counter_state(db.session, counter),
            "site_name": site.name,
            "server_version": server_version(),
        }
    answer = display_board(
        db.session,
        site,
        limit=int(current_app.config["BOARD_CALLS"]),
        service_codes=who.get("services"),
    )
    answer["server_version"] = server_version()
    return answer


@socketio.on_error_default
def on_error(error: Exception) -> dict:
    """A handler failed: the caller's acknowledgement says so (a database outage is logged once)."""
    with contextlib.suppress(Exception):
        db.session.rollback()
    if is_unavailable(error):
        note_failure(error)
        return {"error": {"code": "unavailable", "message": "the service is briefly unavailable"}}
    log.error("realtime handler failed: %s", getattr(request, "event", None), exc_info=error)
    return {"error": {"code": "internal_error", "message": "something went wrong on our side"}}


def _this_app() -> Flask:
    """The application object behind ``current_app`` (a per-app registry is keyed on it)."""
    return current_app._get_current_object()  # type: ignore[attr-defined]


def _sid() -> str:
    """The Socket.IO session id Flask-SocketIO sets on the request of an event."""
    return str(request.sid)  # type: ignore[attr-defined]
