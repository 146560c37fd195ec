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
