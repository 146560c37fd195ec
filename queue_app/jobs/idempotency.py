"""Idempotency keys past their expiry (the end of their service day) are deleted."""

from __future__ import annotations

import logging

from ..extensions import db
from ..models import utcnow
from ..queue.idempotency import purge_expired

log = logging.getLogger(__name__)

BATCH = 5000


def run() -> int:
    """Delete expired idempotency keys, a batch per transaction; returns how many."""
    now = utcnow()
    total = 0
    while True:
        deleted = purge_expired(db.session, now=now, batch=BATCH)
        db.session.commit()
        total += deleted
        if deleted < BATCH:
            break
    if total:
        log.info("idempotency: %d expired key(s) deleted", total)
    return total
