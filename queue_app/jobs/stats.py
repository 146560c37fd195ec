"""Statistics jobs: closed days rolled up, service times learned for the estimates."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import Site
from ..quality.learning import learn_site
from ..quality.rollup import roll_up

log = logging.getLogger(__name__)


def _each_site(work: str, action) -> int:
    total = 0
    site_ids = db.session.scalars(select(Site.id).order_by(Site.id)).all()
    db.session.rollback()
    for site_id in site_ids:
        try:
            site = db.session.get(Site, site_id)
            if site is None:
                continue
            total += action(site)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("%s failed for site %s", work, site_id)
    return total


def roll_up_all(now: datetime | None = None) -> int:
    """Store the summaries of every site's closed days; returns days stored."""
    grace = timedelta(minutes=float(current_app.config["DAY_CLOSE_GRACE_MINUTES"]))
    return _each_site(
        "statistics roll-up", lambda site: roll_up(db.session, site, grace=grace, now=now)
    )


def learn_all(now: datetime | None = None) -> int:
    """Learn every site's service times per hour for the estimates; returns profiles."""
    days = int(current_app.config["ESTIMATE_LEARNING_DAYS"])
    return _each_site(
        "service-time learning", lambda site: learn_site(db.session, site, days=days, now=now)
    )
