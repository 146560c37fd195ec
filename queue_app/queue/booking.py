"""Appointments: slots, booking, cancelling, check-in (the appointment becomes a ticket).

No overbooking: each (service, slot) has a row in ``slot_bookings`` whose count
is raised by one conditional upsert (``... DO UPDATE ... WHERE booked <
capacity RETURNING booked``). PostgreSQL re-checks the condition on the latest
row version under the row lock, SQLite serialises writers: concurrent bookings
of the last place see each other, and the losers get 409.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, bindparam, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import (
    WEEKDAYS,
    Appointment,
    AppointmentStatus,
    BookingChannel,
    Service,
    Site,
    SlotBooking,
    Ticket,
    TicketSource,
    utcnow,
)
from ..models.base import TZDateTime
from . import errors
from .actors import Actor
from .days import (
    closing_time,
    day_intervals,
    has_hours,
    is_closure_day,
    local_now,
    parse_hhmm,
    service_day,
    zone,
)
from .errors import N_
from .idempotency import Key
from .numbering import CODE_ALPHABET
from .tickets import Issued, issue_ticket, replayed_ticket

log = logging.getLogger(__name__)

REFERENCE_LENGTH = 6


# --- errors ----------------------------------------------------------------------


class SlotFull(errors.Conflict):
    code = "slot_full"
    default_message = N_("This slot is full. Choose another one.")


class AlreadyBooked(errors.Conflict):
    code = "already_booked"
    default_message = N_("This phone number already has an appointment for this service that day.")


class BookingClosed(errors.Conflict):
    code = "booking_closed"
    default_message = N_("Appointments cannot be booked for this service.")


class NotASlot(errors.InvalidInput):
    code = "not_a_slot"
    default_message = N_("This time is not a slot that can be booked.")


class AppointmentCancelled(errors.Conflict):
    code = "appointment_cancelled"
    default_message = N_("This appointment was cancelled.")


class AlreadyCheckedIn(errors.Conflict):
    code = "already_checked_in"
    default_message = N_("This appointment is already checked in.")


class AppointmentOver(errors.Conflict):
    code = "appointment_over"
    default_message = N_("This appointment is over.")


class TooEarly(errors.DomainError):
    status = 422
    code = "too_early"
    default_message = N_("Too early: check-in opens %(minutes)s minutes before the appointment.")


class TooLate(errors.DomainError):
    status = 422
    code = "too_late"
    default_message = N_("Too late: the appointment time is past. Please take a ticket.")


# --- rules -----------------------------------------------------------------------


@dataclass(frozen=True)
class BookingRules:
    """The settings booking obeys (from the app config; tests pass their own)."""

    check_in_early: timedelta = timedelta(minutes=60)
    check_in_late: timedelta = timedelta(minutes=15)
    call_ahead: timedelta = timedelta(minutes=5)
    min_lead: timedelta = timedelta(minutes=30)
    # Weekly hours offered for booking by a site that has set no opening hours.
    default_hours: Mapping[str, Any] | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> BookingRules:
        return cls(
            check_in_early=timedelta(minutes=float(config["CHECK_IN_EARLY_MINUTES"])),
            check_in_late=timedelta(minutes=float(config["CHECK_IN_LATE_MINUTES"])),
            call_ahead=timedelta(minutes=float(config["APPOINTMENT_CALL_AHEAD_MINUTES"])),
            min_lead=timedelta(minutes=float(config["BOOKING_MIN_LEAD_MINUTES"])),
            default_hours=config.get("BOOKING_DEFAULT_HOURS") or None,
        )


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    capacity: int
    booked: int

    @property
    def available(self) -> int:
        return max(self.capacity - self.booked, 0)


# --- slots -----------------------------------------------------------------------


def opening_intervals(
    site: Site, day: date, default_hours: Mapping[str, Any] | None
) -> list[tuple[time, time]]:
    """The intervals a site-local day can be booked in: the site's opening hours, or,
    for a site that has set none, ``default_hours`` (BOOKING_DEFAULT_HOURS; None: no slot).
    Closure days have none."""
    if has_hours(site):
        return day_intervals(site, day)
    if not default_hours or is_closure_day(site, day):
        return []
    raw = default_hours.get(WEEKDAYS[day.weekday()]) or []
    return [(parse_hhmm(start), parse_hhmm(end)) for start, end in raw]


def slot_grid(
    site: Site, service: Service, day: date, default_hours: Mapping[str, Any] | None = None
) -> list[tuple[datetime, datetime]]:
    """The slots of a site-local day (UTC start, end): slot_minutes steps within each opening."""
    tz = zone(site.timezone)
    step = timedelta(minutes=service.slot_minutes)
    grid = []
    for opens, closes in opening_intervals(site, day, default_hours):
        start = datetime.combine(day, opens, tzinfo=tz)
        end = datetime.combine(day, closes, tzinfo=tz)
        while start + step <= end:
            grid.append((start.astimezone(UTC), (start + step).astimezone(UTC)))
            start += step
    return grid


def booking_horizon(site: Site, service: Service, now: datetime) -> tuple[date, date]:
    """First and last site-local days that can be booked now."""
    today = service_day(site, now)
    return today, today + timedelta(days=service.booking_days_ahead)


_BOOKED = (
    select(SlotBooking.slot_start, SlotBooking.booked)
    .where(
        SlotBooking.service_id == bindparam("service_id"),
        SlotBooking.slot_start >= bindparam("start", type_=TZDateTime()),
        SlotBooking.slot_start < bindparam("end", type_=TZDateTime()),
    )
)  # fmt: skip


def slots_between(
    session: Session,
    site: Site,
    service: Service,
    first: date,
    last: date,
    *,
    now: datetime,
    rules: BookingRules,
) -> dict[date, list[Slot]]:
    """Bookable slots of each day from ``first`` to ``last`` (one query for the counts)."""
    low, high = booking_horizon(site, service, now)
    first, last = max(first, low), min(last, high)
    if not service.booking_enabled or not service.is_active or first > last:
        return {}
    grids = {}
    day = first
    while day <= last:
        grid = [
            (s, e)
            for s, e in slot_grid(site, service, day, rules.default_hours)
            if s >= now + rules.min_lead
        ]
        if grid:
            grids[day] = grid
        day += timedelta(days=1)
    if not grids:
        return {}
    starts = [s for grid in grids.values() for s, _ in grid]
    booked = {
        _aware(start): int(count)
        for start, count in session.execute(
            _BOOKED,
            {"service_id": service.id, "start": min(starts), "end": max(starts) + timedelta(1)},
        ).all()
    }
    capacity = service.slot_capacity
    return {
        day: [Slot(s, e, capacity, booked.get(s, 0)) for s, e in grid]
        for day, grid in grids.items()
    }


def available_slots(
    session: Session,
    site: Site,
    service: Service,
    day: date,
    *,
    now: datetime | None = None,
    rules: BookingRules | None = None,
) -> list[Slot]:
    """Every bookable slot of a site-local day with its free places (full ones included)."""
    now = now or utcnow()
    return slots_between(
        session, site, service, day, day, now=now, rules=rules or BookingRules()
    ).get(day, [])


def bookable_days(
    session: Session,
    site: Site,
    service: Service,
    *,
    now: datetime | None = None,
    rules: BookingRules | None = None,
    limit: int | None = None,
) -> list[tuple[date, int]]:
    """Days with at least one free place, and how many free places they have."""
    now = now or utcnow()
    low, high = booking_horizon(site, service, now)
    days = slots_between(session, site, service, low, high, now=now, rules=rules or BookingRules())
    free = [(day, sum(slot.available for slot in slots)) for day, slots in sorted(days.items())]
    free = [(day, n) for day, n in free if n > 0]
    return free[:limit] if limit else free


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- booking ---------------------------------------------------------------------


# Take one place of a slot if one is left; no row back means it is full. The
# same statement on PostgreSQL and SQLite (3.35+), like the ticket numbers.
_TAKE_PLACE = text(
    "INSERT INTO slot_bookings (service_id, slot_start, site_id, booked) "
    "VALUES (:service_id, :slot_start, :site_id, 1) "
    "ON CONFLICT (service_id, slot_start) DO UPDATE "
    "SET booked = slot_bookings.booked + 1 "
    "WHERE slot_bookings.booked < :capacity "
    "RETURNING booked"
).bindparams(bindparam("slot_start", type_=TZDateTime()))

_GIVE_BACK = (
    update(SlotBooking)
    .where(
        SlotBooking.service_id == bindparam("b_service_id"),
        SlotBooking.slot_start == bindparam("b_slot_start", type_=TZDateTime()),
        SlotBooking.booked > 0,
    )
    .values(booked=SlotBooking.booked - 1)
)


def new_reference() -> str:
    """A short random reference, easy to read out and to type (31^6 ≈ 8.9e8)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def normalize_reference(raw: str) -> str:
    """A reference as people type it: any case, spaces or dashes, O for 0, I/L for 1."""
    cleaned = "".join(ch for ch in (raw or "").upper() if ch.isalnum())
    return cleaned.replace("0", "O").replace("1", "I")[:12]


def book(
    session: Session,
    site: Site,
    service: Service,
    start: datetime,
    *,
    phone: str | None,
    name: str | None = None,
    channel: BookingChannel = BookingChannel.WEB,
    language: str | None = None,
    now: datetime | None = None,
    rules: BookingRules | None = None,
) -> Appointment:
    """Book a place in a slot; takes the slot's counter row (409 SlotFull when none is left).

    The caller enqueues the confirmation SMS (``sms.notices.confirm``) and commits.
    """
    now = now or utcnow()
    rules = rules or BookingRules()
    if service.site_id != site.id:
        raise errors.NotFound(service=service.code)
    if not service.booking_enabled or not service.is_active:
        raise BookingClosed(service=service.code)
    start = start.astimezone(UTC)
    day = service_day(site, start)
    low, high = booking_horizon(site, service, now)
    grid = slot_grid(site, service, day, rules.default_hours)
    slot = next(((s, e) for s, e in grid if s == start), None)
    if slot is None or not low <= day <= high or start < now + rules.min_lead:
        raise NotASlot(field="start", start=start.isoformat())
    appointment = Appointment(
        site_id=site.id,
        service_id=service.id,
        site=site,
        service=service,
        slot_start=start,
        slot_end=slot[1],
        service_day=day,
        status=AppointmentStatus.BOOKED,
        channel=channel,
        phone=phone,
        name=(name or "").strip()[:100] or None,
        language=language or site.default_language,
        created_at=now,
    )
    place = {
        "service_id": service.id,
        "slot_start": start,
        "site_id": site.id,
        "capacity": service.slot_capacity,
    }
    for _attempt in range(5):
        appointment.reference = new_reference()
        try:
            # The place and the appointment together: a refused appointment gives
            # its place back with the savepoint, whatever the caller commits next.
            with session.begin_nested():
                if session.execute(_TAKE_PLACE, place).first() is None:
                    raise SlotFull(start=start.isoformat())
                session.add(appointment)
                session.flush()
            break
        except IntegrityError as exc:
            # The savepoint's rollback took the appointment out of the session.
            if "reference" not in str(exc.orig):
                # uq_appointments_one_per_phone: this phone has booked this service
                # that day (perhaps a moment ago, from another process).
                raise AlreadyBooked(service=service.code, day=day.isoformat()) from None
            # A reference drawn twice (about one chance in 10^8): draw again.
    else:  # pragma: no cover - astronomically unlikely
        raise errors.Conflict(field="reference")
    log.info("appointment %s booked at %s (%s)", appointment.reference, site.slug, channel.value)
    return appointment


def get_appointment(session: Session, reference: str, *, lock: bool = False) -> Appointment:
    """The appointment with this reference (as typed), else NotFound; row-locked when ``lock``."""
    stmt = select(Appointment).where(Appointment.reference == normalize_reference(reference))
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    appointment = session.scalar(stmt)
    if appointment is None:
        raise errors.NotFound(reference=reference)
    return appointment


def upcoming_for_phone(
    session: Session, site: Site, phone: str, *, now: datetime | None = None
) -> list[Appointment]:
    """A phone's booked appointments at a site that are still to come, soonest first."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(Appointment)
            .where(
                Appointment.site_id == site.id,
                Appointment.phone == phone,
                Appointment.status == AppointmentStatus.BOOKED,
                Appointment.slot_end > now,
            )
            .order_by(Appointment.slot_start)
        )
    )


def cancel(session: Session, appointment: Appointment, *, now: datetime | None = None) -> bool:
    """Cancel a booked appointment and give its place back; False when already cancelled.

    Refused (409) once checked in or over.
    """
    now = now or utcnow()
    if appointment.status == AppointmentStatus.CANCELLED:
        return False
    if appointment.status == AppointmentStatus.CHECKED_IN:
        raise AlreadyCheckedIn(reference=appointment.reference)
    if appointment.status == AppointmentStatus.NO_SHOW or appointment.slot_end <= now:
        raise AppointmentOver(reference=appointment.reference)
    appointment.status = AppointmentStatus.CANCELLED
    appointment.cancelled_at = now
    session.execute(
        _GIVE_BACK,
        {"b_service_id": appointment.service_id, "b_slot_start": appointment.slot_start},
    )
    log.info("appointment %s cancelled", appointment.reference)
    return True


# --- check-in --------------------------------------------------------------------


def check_in(
    session: Session,
    appointment: Appointment,
    *,
    actor: Actor,
    now: datetime | None = None,
    rules: BookingRules | None = None,
    idempotency_key: Key | None = None,
) -> Issued:
    """Turn a booked appointment into a ticket (source ``appointment``) within its window.

    From ``check_in_early`` before the slot until ``check_in_late`` after its start.
    The ticket has the ``appointment`` priority class: the call policy serves it
    first once its slot has come (minus ``call_ahead``): its ``queued_at`` is
    that moment. A replay with the ticket's Idempotency-Key returns it (created
    False); otherwise a second check-in is 409.
    """
    now = now or utcnow()
    rules = rules or BookingRules()
    if appointment.status == AppointmentStatus.CHECKED_IN and appointment.ticket is not None:
        if idempotency_key:
            replay = replayed_ticket(
                session,
                appointment.site,
                appointment.service,
                actor=actor,
                idempotency_key=idempotency_key,
                ticket=appointment.ticket,
                now=now,
            )
            if replay is not None:
                return replay
        raise AlreadyCheckedIn(reference=appointment.reference, ticket=appointment.ticket.label)
    if appointment.status == AppointmentStatus.CANCELLED:
        raise AppointmentCancelled(reference=appointment.reference)
    if appointment.status != AppointmentStatus.BOOKED:
        raise AppointmentOver(reference=appointment.reference)
    if now < appointment.slot_start - rules.check_in_early:
        minutes = int(rules.check_in_early.total_seconds() // 60)
        raise TooEarly(
            TooEarly.default_message % {"minutes": minutes},
            opens_at=(appointment.slot_start - rules.check_in_early).isoformat(),
        )
    if now > appointment.slot_start + rules.check_in_late:
        raise TooLate(slot_start=appointment.slot_start.isoformat())
    site, service = appointment.site, appointment.service
    issued = issue_ticket(
        session,
        site,
        service,
        actor=actor,
        source=TicketSource.APPOINTMENT,
        phone=appointment.phone,
        idempotency_key=idempotency_key,
        # The appointment was given by the office: closing hours do not refuse it.
        enforce_hours=False,
        # Called first from its slot (minus the grace period); before, an ordinary ticket.
        due_at=appointment.slot_start - rules.call_ahead,
        now=now,
    )
    ticket = issued.ticket
    appointment.status = AppointmentStatus.CHECKED_IN
    appointment.checked_in_at = now
    appointment.ticket = ticket
    appointment.ticket_id = ticket.id
    log.info("appointment %s checked in as %s", appointment.reference, ticket.label)
    return issued


# --- the office's day --------------------------------------------------------------


def mark_no_shows(
    session: Session, site: Site, *, grace: timedelta, now: datetime | None = None
) -> int:
    """Booked appointments of days that are over (closing time + grace) become no-shows."""
    now = now or utcnow()
    days = session.scalars(
        select(Appointment.service_day)
        .where(
            Appointment.site_id == site.id,
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.service_day <= service_day(site, now),
        )
        .distinct()
    ).all()
    marked = 0
    for day in days:
        end = max(closing_time(site, day), _last_slot_end(session, site, day)) + grace
        if now < end:
            continue
        result = session.execute(
            update(Appointment)
            .where(
                Appointment.site_id == site.id,
                Appointment.service_day == day,
                Appointment.status == AppointmentStatus.BOOKED,
            )
            .values(status=AppointmentStatus.NO_SHOW, no_show_at=now)
        )
        marked += int(result.rowcount or 0)  # type: ignore[attr-defined]
    if marked:
        log.info("day close at %s: %d appointment(s) marked no-show", site.slug, marked)
    return marked


def _last_slot_end(session: Session, site: Site, day: date) -> datetime:
    latest = session.scalar(
        select(func.max(Appointment.slot_end)).where(
            Appointment.site_id == site.id,
            Appointment.service_day == bindparam("day", day, type_=Date()),
        )
    )
    return _aware(latest) if latest is not None else datetime.min.replace(tzinfo=UTC)


def appointments_to_cancel_for_closures(
    session: Session, site: Site, *, now: datetime | None = None
) -> list[Appointment]:
    """Booked appointments on a day the office has since declared closed."""
    now = now or utcnow()
    closed = [closure.day for closure in site.closures if closure.day >= service_day(site, now)]
    if not closed:
        return []
    return list(
        session.scalars(
            select(Appointment)
            .where(
                Appointment.site_id == site.id,
                Appointment.status == AppointmentStatus.BOOKED,
                Appointment.service_day.in_(closed),
            )
            .with_for_update()
        )
    )


def appointments_of_day(session: Session, site: Site, day: date) -> list[Appointment]:
    """A site's appointments of a local day (every status), by slot."""
    return list(
        session.scalars(
            select(Appointment)
            .where(Appointment.site_id == site.id, Appointment.service_day == day)
            .order_by(Appointment.slot_start, Appointment.id)
        )
    )


def local_slot(site: Site, appointment: Appointment) -> datetime:
    """The slot start in the site's time zone."""
    return local_now(site, appointment.slot_start)


def ticket_of(session: Session, appointment: Appointment) -> Ticket | None:
    """The ticket an appointment became at check-in."""
    return session.get(Ticket, appointment.ticket_id) if appointment.ticket_id else None


def update_booking_settings(service: Service, changes: Mapping[str, Any]) -> Service:
    """Change a service's booking settings (enabled, slot length, capacity, days ahead)."""
    bounds = {
        "slot_minutes": (5, 480),
        "slot_capacity": (1, 100),
        "booking_days_ahead": (1, 365),
    }
    for field, (low, high) in bounds.items():
        if field in changes:
            value = changes[field]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise errors.InvalidInput(field=field, min=low, max=high)
            setattr(service, field, value)
    if "booking_enabled" in changes:
        service.booking_enabled = bool(changes["booking_enabled"])
    return service
