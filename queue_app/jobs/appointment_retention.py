"""Personal data of appointments and SMS past retention: names, phones, texts erased."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import delete, update

if TYPE_CHECKING:
    from sqlalchemy import CursorResult

from ..extensions import db
from ..models import Appointment, InboundMessage, OutboundMessage, SmsConversation, utcnow

log = logging.getLogger(__name__)


def purge(cutoff: datetime) -> int:
    """Erase names, phones and texts older than ``cutoff``; flushes, the caller commits.

    Appointments keep their service, slot and status (statistics); messages keep
    their kind, status and times; conversations are deleted.
    """
    now = utcnow()
    counts = [
        db.session.execute(
            update(Appointment)
            .where(Appointment.purged_at.is_(None), Appointment.slot_end < cutoff)
            .values(phone=None, name=None, purged_at=now)
        ),
        db.session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.created_at < cutoff, OutboundMessage.to_phone.is_not(None))
            .values(to_phone=None, body=None)
        ),
        db.session.execute(
            update(InboundMessage)
            .where(InboundMessage.received_at < cutoff, InboundMessage.from_phone.is_not(None))
            .values(from_phone=None, body=None)
        ),
        db.session.execute(delete(SmsConversation).where(SmsConversation.updated_at < cutoff)),
    ]
    # UPDATE and DELETE answer with a CursorResult, which counts the rows.
    erased = sum(int(cast("CursorResult[Any]", result).rowcount or 0) for result in counts)
    if erased:
        log.info("retention: erased personal data of %d appointment/SMS row(s)", erased)
    return erased
