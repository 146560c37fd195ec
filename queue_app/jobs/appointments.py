"""Jobs of appointments and SMS: outbox delivery, reminders, turn-near notices, day close.

Each is idempotent: reminders and notices are outbox rows with one key per
(appointment or ticket, kind), so a restarted worker never queues one twice,
and the outbox sends each row once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import (
    Appointment,
    AppointmentStatus,
    OutboundMessage,
    Site,
    Ticket,
    TicketStatus,
    utcnow,
)
from ..queue import booking
from ..queue.days import service_day
from ..queue.estimates import position_of
from ..sms import notices, outbox

log = logging.getLogger(__name__)


def deliver_outbox() -> int:
    """Send the SMS that are due; returns how many were sent."""
    report = outbox.deliver_due(db.session)
    if report.sent or report.failed or report.reconciled:
        log.info(
            "SMS outbox: %d sent, %d retried, %d failed, %d reconciled, %d held",
            report.sent, report.retried, report.failed, report.reconciled, report.held,
        )  # fmt: skip
    return report.sent


def send_reminders() -> int:
    """Queue the reminders that are due (REMINDER_HOURS_BEFORE before each slot)."""
    now = utcnow()
    hours = sorted({int(h) for h in current_app.config["REMINDER_HOURS_BEFORE"]}, reverse=True)
    if not hours:
        return 0
    appointments = db.session.scalars(
        select(Appointment).where(
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.slot_start > now,
            Appointment.slot_start <= now + timedelta(hours=hours[0]),
            Appointment.phone.is_not(None),
        )
    ).all()
    keys = set(
        db.session.scalars(
            select(OutboundMessage.idempotency_key).where(
                OutboundMessage.appointment_id.in_([a.id for a in appointments] or [-1]),
                OutboundMessage.kind.like("reminder%"),
            )
        )
    )
    queued = 0
    for appointment in appointments:
        due = [h for h in hours if now >= appointment.slot_start - timedelta(hours=h)]
        # Only the latest due reminder: booked 3 hours before, no "day before" text.
        due = [
            h for h in due if appointment.created_at <= appointment.slot_start - timedelta(hours=h)
        ]
        if not due:
            continue
        latest = min(due)
        if f"reminder:{appointment.id}:{latest}" in keys:
            continue
        if any(f"reminder:{appointment.id}:{h}" in keys for h in hours if h < latest):
            continue
        notices.reminder(db.session, appointment, latest, now=now)
        queued += 1
    db.session.commit()
    return queued


def send_turn_near() -> int:
    """'Your turn is near' to tickets with a phone that have TURN_NEAR_POSITION or fewer ahead."""
    now = utcnow()
    limit = int(current_app.config["TURN_NEAR_POSITION"])
    queued = 0
    for site in db.session.scalars(select(Site)).all():
        tickets = db.session.scalars(
            select(Ticket).where(
                Ticket.site_id == site.id,
                Ticket.service_day == service_day(site, now),
                Ticket.status == TicketStatus.WAITING,
                Ticket.phone.is_not(None),
                ~select(OutboundMessage.id)
                .where(OutboundMessage.idempotency_key == "turn_near:" + Ticket.id.cast(db.String))
                .exists(),
            )
        ).all()
        for ticket in tickets:
            ahead = position_of(db.session, ticket)
            if ahead is not None and ahead <= limit:
                notices.turn_near(db.session, ticket, ahead, now=now)
                queued += 1
    db.session.commit()
    return queued


def close_days() -> int:
    """No-shows for appointments of days that are over; cancel those on closed days."""
    grace = timedelta(minutes=float(current_app.config["DAY_CLOSE_GRACE_MINUTES"]))
    changed = 0
    site_ids = db.session.scalars(select(Site.id).order_by(Site.id)).all()
    for site_id in site_ids:
        try:
            site = db.session.get(Site, site_id)
            if site is None:
                continue
            changed += booking.mark_no_shows(db.session, site, grace=grace)
            for appointment in booking.appointments_to_cancel_for_closures(db.session, site):
                booking.cancel(db.session, appointment)
                notices.office_closed(db.session, appointment)
                changed += 1
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("appointment day close failed for site %s", site_id)
    return changed
