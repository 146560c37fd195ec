"""Socket.IO: who connects, which rooms they join, and the sync/track requests.

Displays join ``site:<slug>``; agents and managers join ``agents:<slug>`` of
their sites; a tracking page connects without credentials and emits ``track``.
Events themselves are emitted by events.py only.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from flask import current_app, request, session
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room
from sqlalchemy.exc import SQLAlchemyError

from . import events
from .extensions import db, socketio
from .models import Device, DeviceKind, Role, Site, User
from .outages import is_unavailable, note_failure
from .permissions import belongs_to
from .queue import errors
from .queue.accounts import resolve_token
from .queue.board import board
from .queue.sites import get_site
from .queue.tickets import get_ticket_by_code

log = logging.getLogger(__name__)
PRINCIPAL_KEY = "rt_principal"


def _authenticate(auth: Any) -> User | Device | None:
    token = None
    if isinstance(auth, dict):
        token = auth.get("token")
    token = token or request.args.get("token")
    if token:
        found = resolve_token(db.session, str(token))
        if found is None:
            raise ConnectionRefusedError("unauthorized")
        return found
    if current_user.is_authenticated:
        return db.session.get(User, int(current_user.get_id()))
    return None


@socketio.on("connect")
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
        # Its connections drop when its token is revoked or rotated.
        join_room(events.device_room(principal.id))
        if principal.kind == DeviceKind.DISPLAY:
            join_room(events.site_room(site.slug))
        session[PRINCIPAL_KEY] = {
            "device": principal.id,
            "site": site.slug,
            "kind": principal.kind.value,
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


@socketio.on("track")
def on_track(data: Any) -> dict:
    """Join ``ticket:<code>``; the answer is the ticket's current state."""
    from .api.tickets import track_json

    code = str(data.get("code", "")) if isinstance(data, dict) else ""
    try:
        ticket = get_ticket_by_code(db.session, code[:16])
    except errors.NotFound:
        return {"error": {"code": "not_found", "message": "unknown ticket"}}
    join_room(events.ticket_room(ticket.code))
    return track_json(ticket)


@socketio.on("sync")
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
    return board(db.session, site, limit=int(current_app.config["BOARD_CALLS"]))


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
