"""Error pages on the citizens' pages (tracking, booking, complaints, commitments) offer a
citizen's way back, the office's booking page, never the agents' console."""

from __future__ import annotations

import re
from typing import Any

from flask import has_request_context, request, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..models import Site

_OFFICE_PAGE = re.compile(r"^/(?:book|sites)/([a-z0-9_-]{1,64})(?:/|$)")
_CITIZEN_PAGE = re.compile(r"^/(?:t|r|book)(?:/|$)|^/sites/[^/]+/(?:complaints|commitments)")


def citizen_way_back() -> dict[str, Any] | None:
    """None on staff pages; on a citizen's page, {"site", "url"}: the office the address
    names (or the only office of this server) and its booking page, when known."""
    if not has_request_context() or not _CITIZEN_PAGE.match(request.path):
        return None
    site = None
    try:
        found = _OFFICE_PAGE.match(request.path)
        if found:
            site = db.session.scalar(select(Site).where(Site.slug == found.group(1)))
        if site is None and db.session.scalar(select(func.count()).select_from(Site)) == 1:
            site = db.session.scalar(select(Site))
    except SQLAlchemyError:
        db.session.rollback()  # the database is down: the page still answers
        site = None
    url = url_for("booking.start", slug=site.slug) if site is not None else None
    return {"site": site, "url": url}
