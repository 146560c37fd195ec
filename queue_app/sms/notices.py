"""The messages appointments and tickets send: confirmation, reminders, notices."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ..models import Appointment, BookingChannel, OutboundMessage, Ticket
from ..queue.days import local_now
from . import outbox, texts


def _channel(appointment: Appointment) -> str:
    return "whatsapp" if appointment.channel == BookingChannel.WHATSAPP else "sms"


def appointment_values(appointment: Appointment, language: str) -> dict[str, Any]:
    site = appointment.site
    local = local_now(site, appointment.slot_start)
    return {
        "ref": appointment.reference,
        "service": texts.service_name(appointment.service, language),
        "site": site.name,
        "day": texts.local_day(local, language),
        "time": texts.local_time(local, language),
    }


def _send(
    session: Session,
    appointment: Appointment,
    kind: str,
    key: str,
    *,
    quiet_hours: bool,
    expires_at: datetime | None = None,
    gateway: str | None = None,
    config: Mapping[str, Any] | None = None,
) -> OutboundMessage | None:
    if not appointment.phone:
        return None
    language = appointment.language
    body = texts.message(kind, language, **appointment_values(appointment, language))
    return outbox.enqueue(
        session,
        appointment.site,
        appointment.phone,
        body,
        kind=kind,
        key=key,
        channel=_channel(appointment),
        gateway=gateway,
        quiet_hours=quiet_hours,
        expires_at=expires_at,
        appointment_id=appointment.id,
        config=config,
    )


def confirm(
    session: Session, appointment: Appointment, *, gateway: str | None = None
) -> OutboundMessage | None:
    """The booking confirmation with the reference (sent at once, any hour)."""
    return _send(
        session,
        appointment,
        "confirmation",
        f"confirmation:{appointment.id}",
        quiet_hours=False,
        expires_at=appointment.slot_end,
        gateway=gateway,
    )


def cancelled(
    session: Session, appointment: Appointment, *, gateway: str | None = None
) -> OutboundMessage | None:
    """Confirms a cancellation the citizen asked for."""
    return _send(
        session,
        appointment,
        "cancelled",
        f"cancelled:{appointment.id}",
        quiet_hours=False,
        gateway=gateway,
    )


def office_closed(session: Session, appointment: Appointment) -> OutboundMessage | None:
    """The office closed the appointment's day: the appointment is cancelled."""
    return _send(
        session,
        appointment,
        "office_closed",
        f"office_closed:{appointment.id}",
        quiet_hours=True,
        expires_at=appointment.slot_end,
    )


def reminder(
    session: Session, appointment: Appointment, hours: int, *, now: datetime
) -> OutboundMessage | None:
    """A reminder ``hours`` before the slot (the day before, or the same day)."""
    site = appointment.site
    same_day = local_now(site, now).date() == local_now(site, appointment.slot_start).date()
    kind = "reminder_same_day" if same_day else "reminder_day_before"
    return _send(
        session,
        appointment,
        kind,
        f"reminder:{appointment.id}:{hours}",
        quiet_hours=True,
        # Useless once the citizen should be at the office.
        expires_at=appointment.slot_start - timedelta(minutes=15),
    )


def turn_near(
    session: Session, ticket: Ticket, ahead: int, *, now: datetime
) -> OutboundMessage | None:
    """'Your turn is near' to the phone given with a ticket (once per ticket)."""
    if not ticket.phone:
        return None
    site = ticket.site
    language = site.default_language
    body = texts.message(
        "turn_near",
        language,
        label=ticket.label,
        ahead=ahead,
        service=texts.service_name(ticket.service, language),
        site=site.name,
    )
    return outbox.enqueue(
        session,
        site,
        ticket.phone,
        body,
        kind="turn_near",
        key=f"turn_near:{ticket.id}",
        quiet_hours=False,
        expires_at=now + timedelta(hours=1),
        ticket_id=ticket.id,
    )
