"""Public pages for citizens: follow a ticket live on a phone."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from ..extensions import db
from ..queue.errors import NotFound
from ..queue.tickets import get_ticket_by_code
from ..security.lookup_limits import guards_lookup, refused_page

bp = Blueprint("public", __name__)


@bp.get("/t/<code>")
@guards_lookup(refused_page)
def track(code: str) -> Any:
    """The tracking page of a ticket: position, estimated wait, counter when called."""
    from ..api.tickets import track_json

    try:
        ticket = get_ticket_by_code(db.session, code[:16])
    except NotFound:
        return render_template("public/track_unknown.html", code=code[:16]), 404
    return render_template("public/track.html", code=ticket.code, state=track_json(ticket))
