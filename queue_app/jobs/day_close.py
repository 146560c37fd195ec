"""Day close: tickets still waiting after a site's closing time are closed."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import Site
from ..queue.day_close import close_day

log = logging.getLogger(__name__)


def run() -> int:
    """Close due days at every site, one transaction per site; returns tickets closed."""
    grace = timedelta(minutes=float(current_app.config["DAY_CLOSE_GRACE_MINUTES"]))
    total = 0
    site_ids = db.session.scalars(select(Site.id).order_by(Site.id)).all()
    db.session.rollback()
    for site_id in site_ids:
        try:
            site = db.session.get(Site, site_id)
            if site is None:
                continue
            total += close_day(db.session, site, grace=grace)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("day close failed for site %s", site_id)
    return total
