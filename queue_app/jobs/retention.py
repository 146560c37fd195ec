"""Personal data past retention: phone numbers given with tickets are erased."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import update

from ..extensions import db
from ..models import Ticket, utcnow
from . import appointment_retention

log = logging.getLogger(__name__)


def run() -> int:
    """Erase ticket phone numbers older than RETENTION_DAYS; returns how many."""
    cutoff = utcnow() - timedelta(days=float(current_app.config["RETENTION_DAYS"]))
    result = db.session.execute(
        update(Ticket)
        .where(Ticket.phone.is_not(None), Ticket.issued_at < cutoff)
        .values(phone=None)
    )
    erased = int(result.rowcount or 0)  # type: ignore[attr-defined]
    # Appointments, SMS and booking dialogues (their own function).
    erased += appointment_retention.purge(cutoff)
    db.session.commit()
    if erased:
        log.info("retention: erased the phone number of %d ticket(s)", erased)
    return erased


def run_quality() -> int:
    """Erase personal data in ratings' comments and in complaints past retention.

    Comments after RETENTION_DAYS, complaints after COMPLAINT_RETENTION_DAYS;
    ratings, counts and the register stay. Returns the rows looked at.
    """
    from ..quality.retention import purge_complaints, purge_feedback_comments

    now = utcnow()
    config = current_app.config
    total = 0
    # Batches, each committed, so a large backlog never holds a long transaction.
    while True:
        cutoff = now - timedelta(days=float(config["RETENTION_DAYS"]))
        done = purge_feedback_comments(db.session, cutoff, now=now)
        db.session.commit()
        total += done
        if not done:
            break
    while True:
        cutoff = now - timedelta(days=float(config["COMPLAINT_RETENTION_DAYS"]))
        done = purge_complaints(db.session, cutoff, now=now)
        db.session.commit()
        total += done
        if not done:
            break
    if total:
        log.info("retention: personal data checked in %d rating(s) and complaint(s)", total)
    return total
