"""The public booking page /book/<slug>: service → day → time → phone and name → done.

Server-rendered steps with plain links and CSRF-protected forms: it works
without JavaScript, on any phone. Rate limited like the booking API.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TelField
from wtforms.validators import DataRequired, Length, Optional

from ..extensions import db, limiter
from ..models import Appointment, AppointmentStatus, BookingChannel, Service, Site, utcnow
from ..queue import booking, errors
from ..queue.booking_window import DayProblem, judge_day
from ..queue.days import local_now, zone
from ..queue.phones import example_phone, normalize_phone, region_of
from ..queue.sites import get_site
from ..security.lookup_limits import guards_lookup, minutes, refused_page
from ..sms import notices
from .helpers import current_locale

bp = Blueprint("booking", __name__, url_prefix="/book")


def _limit() -> str:
    return str(current_app.config["RATELIMIT_BOOKING"])


PHONE_MISSING = _l("Enter your mobile phone number: the confirmation comes to it by SMS.")
NAME_MISSING = _l("Enter your name: the office asks for it.")


class BookForm(FlaskForm):
    service = HiddenField(validators=[DataRequired()])
    start = HiddenField(validators=[DataRequired()])
    phone = TelField(
        _l("Mobile phone number"),
        validators=[DataRequired(message=PHONE_MISSING), Length(max=32)],
    )
    name = StringField(_l("Your name (optional)"), validators=[Optional(), Length(max=100)])


def _book_form(**values: Any) -> BookForm:
    """The details form; the name is asked for when the office requires it."""
    form = BookForm(**values)
    if current_app.config.get("BOOKING_NAME_REQUIRED"):
        form.name.label.text = str(_l("Your name"))
    return form


class ReferenceForm(FlaskForm):
    reference = StringField(_l("Appointment code"), validators=[DataRequired(), Length(max=16)])


class CancelForm(FlaskForm):
    pass


@bp.app_template_global()
def phone_placeholder(site: Site) -> str:
    """A mobile number as the office's citizens write it (01 95 12 34 56 in Benin)."""
    region = region_of(site.timezone, current_app.config["DEFAULT_PHONE_REGION"])
    return example_phone(region)[0].replace("\u00a0", " ")


def _rules() -> booking.BookingRules:
    return booking.BookingRules.from_config(current_app.config)


def _site(slug: str) -> Site:
    try:
        return get_site(db.session, slug[:64])
    except errors.NotFound:
        abort(404)


def _bookable(site: Site) -> list[Service]:
    return [s for s in site.services if s.booking_enabled and s.is_active]


def _day_label(day: date) -> str:
    from flask_babel import format_date

    return format_date(day, "EEEE d MMMM")


@bp.get("/<slug>")
def start(slug: str) -> Any:
    """One page per step, chosen by the query: ?service=, then &day=, then &start=."""
    site = _site(slug)
    services = _bookable(site)
    lang = current_locale()
    context: dict[str, Any] = {"site": site, "services": services, "lang": lang, "step": "service"}
    code = request.args.get("service", "")[:32]
    service = next((s for s in services if s.code == code), None)
    if service is None:
        return render_template("public/book.html", **context)
    context.update(service=service, step="day")
    days = booking.bookable_days(db.session, site, service, rules=_rules())
    context["days"] = [(d, _day_label(d), n) for d, n in days]
    day = _parse_day(request.args.get("day"))
    if day is None:
        return render_template("public/book.html", **context)
    slots = [
        (slot, local_now(site, slot.start).strftime("%H:%M"))
        for slot in booking.available_slots(db.session, site, service, day, rules=_rules())
    ]
    context.update(day=day, day_label=_day_label(day), slots=slots, step="slot")
    chosen = request.args.get("start", "")
    slot = next((s for s, _label in slots if s.start.isoformat() == chosen), None)
    if slot is None or slot.available <= 0:
        return render_template("public/book.html", **context)
    form = _book_form(service=service.code, start=slot.start.isoformat())
    context.update(
        step="details",
        slot=slot,
        slot_label=local_now(site, slot.start).strftime("%H:%M"),
        form=form,
    )
    return render_template("public/book.html", **context)


def _parse_day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@bp.post("/<slug>")
@limiter.limit(_limit)
def submit(slug: str) -> Any:
    """Book; any wrong input shows the form again, typed values kept, the message at its field."""
    site = _site(slug)
    form = _book_form()
    services = _bookable(site)
    service = next((s for s in services if s.code == form.service.data), None)
    try:
        start_at = datetime.fromisoformat(form.start.data or "").astimezone(UTC)
    except ValueError:
        start_at = None
    if service is None or start_at is None:
        return redirect(url_for("booking.start", slug=site.slug))
    error = time_error = None
    phone = None
    valid = form.validate_on_submit()
    region = region_of(site.timezone, current_app.config["DEFAULT_PHONE_REGION"])
    if form.phone.data and not form.phone.errors:
        try:
            phone = normalize_phone(form.phone.data, region)
        except errors.InvalidInput:
            national, international = example_phone(region)
            form.phone.errors = [
                *form.phone.errors,
                _(
                    "This phone number cannot be read. Write it as %(national)s or "
                    "%(international)s.",
                    national=national,
                    international=international,
                ),
            ]
    if current_app.config.get("BOOKING_NAME_REQUIRED") and not (form.name.data or "").strip():
        form.name.errors = [*form.name.errors, str(NAME_MISSING)]
    if valid and phone is not None and not form.name.errors:
        try:
            appointment = booking.book(
                db.session, site, service, start_at, phone=phone, name=form.name.data,
                channel=BookingChannel.WEB, language=current_locale(), rules=_rules(),
            )  # fmt: skip
            notices.confirm(db.session, appointment)
            db.session.commit()
            return redirect(
                url_for("booking.done", slug=site.slug, reference=appointment.reference)
            )
        except booking.SlotFull:
            db.session.rollback()
            time_error = _("This time was just taken by someone else. Choose another one.")
        except booking.NotASlot:
            db.session.rollback()
            time_error = _time_problem(site, service, start_at)
        except errors.DomainError as exc:
            db.session.rollback()
            error = (
                _("You already have an appointment for this service that day.")
                if isinstance(exc, booking.AlreadyBooked)
                else str(exc.message)
            )
    day = local_now(site, start_at).date()
    other_times = []
    if time_error:
        other_times = [
            (slot.start.isoformat(), local_now(site, slot.start).strftime("%H:%M"))
            for slot in booking.available_slots(db.session, site, service, day, rules=_rules())
            if slot.available > 0 and slot.start != start_at
        ]
    return (
        render_template(
            "public/book.html",
            site=site,
            services=services,
            service=service,
            step="details",
            day=day,
            day_label=_day_label(day),
            slot=booking.Slot(start_at, start_at, 1, 0),
            slot_label=local_now(site, start_at).strftime("%H:%M"),
            form=form,
            error=error,
            time_error=time_error,
            other_times=other_times,
            lang=current_locale(),
        ),
        400,
    )


def _time_problem(site: Site, service: Service, start_at: datetime) -> str:
    """What is wrong with a time that is no slot (a stale page, a day outside the window)."""
    from flask_babel import format_date

    day = local_now(site, start_at).date()
    verdict = judge_day(db.session, site, service, day, now=utcnow(), rules=_rules())
    last = format_date(verdict.last_day, "EEEE d MMMM")
    if verdict.problem is DayProblem.TOO_FAR:
        return _("This day is too far ahead: appointments can be booked until %(day)s.", day=last)
    if verdict.problem is DayProblem.CLOSED:
        return _("The office is closed that day. Choose another day.")
    if verdict.problem is DayProblem.FULL:
        return _("This day is full. Choose another day.")
    if day < verdict.first_day or verdict.problem is DayProblem.PAST:
        return _("This time has passed. Choose a later time.")
    return _("This time cannot be booked. Choose another one.")


def _appointment(site: Site, reference: str) -> Appointment:
    try:
        appointment = booking.get_appointment(db.session, reference[:16])
    except errors.NotFound:
        abort(404)
    if appointment.site_id != site.id:
        abort(404)
    return appointment


@bp.get("/<slug>/<reference>")
@guards_lookup(refused_page)
def done(slug: str, reference: str) -> Any:
    """The confirmation: the reference, big; the details; calendar file; cancel."""
    site = _site(slug)
    if reference.endswith(".ics"):
        return ics(site, reference[:-4])
    appointment = _appointment(site, reference)
    local = local_now(site, appointment.slot_start)
    return render_template(
        "public/book_done.html",
        site=site,
        appointment=appointment,
        day_label=_day_label(local.date()),
        time_label=local.strftime("%H:%M"),
        form=CancelForm(),
        cancelled=appointment.status == AppointmentStatus.CANCELLED,
        early=int(current_app.config["CHECK_IN_EARLY_MINUTES"]),
    )


@bp.post("/<slug>/<reference>/cancel")
@limiter.limit(_limit)
@guards_lookup(refused_page)
def cancel(slug: str, reference: str) -> Any:
    site = _site(slug)
    appointment = _appointment(site, reference)
    if CancelForm().validate_on_submit():
        try:
            if booking.cancel(db.session, appointment):
                notices.cancelled(db.session, appointment)
            db.session.commit()
        except errors.DomainError:
            db.session.rollback()
    return redirect(url_for("booking.done", slug=site.slug, reference=appointment.reference))


def _find_refused(wait: int, slug: str) -> Any:
    """The find form again, saying why nothing is looked up now and for how long."""
    site = _site(slug)
    error = ngettext(
        "Too many unknown codes were tried from your connection. Wait %(num)d minute, "
        "then try again.",
        "Too many unknown codes were tried from your connection. Wait %(num)d minutes, "
        "then try again.",
        minutes(wait),
    )
    page = render_template("public/book_find.html", site=site, form=ReferenceForm(), error=error)
    return page, 429, {"Retry-After": str(wait)}


@bp.route("/<slug>/find", methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"])
@guards_lookup(_find_refused, methods=("POST",))
def find(slug: str) -> Any:
    """Cancel or look up an appointment by its code (an unknown code: 404, the form again)."""
    site = _site(slug)
    form = ReferenceForm()
    status, error = 200, None
    if form.validate_on_submit():
        reference = booking.normalize_reference(form.reference.data or "")
        found = db.session.scalar(
            booking.select(Appointment).where(
                Appointment.reference == reference, Appointment.site_id == site.id
            )
        )
        if found is not None:
            return redirect(url_for("booking.done", slug=site.slug, reference=found.reference))
        status, error = 404, _("No appointment has this code at this office.")
    return render_template("public/book_find.html", site=site, form=form, error=error), status


def ics(site: Site, reference: str) -> Response:
    """The appointment as an iCalendar event (RFC 5545), for the phone's calendar."""
    appointment = _appointment(site, reference)

    def stamp(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", " ")

    summary = f"{appointment.service.name_in(current_locale())} — {site.name}"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Guichet//Appointments//FR",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{appointment.reference}@{site.slug}.guichet",
        f"DTSTAMP:{stamp(utcnow())}",
        f"DTSTART:{stamp(appointment.slot_start)}",
        f"DTEND:{stamp(appointment.slot_end)}",
        f"SUMMARY:{escape(summary)}",
        f"LOCATION:{escape(site.name)}",
        "DESCRIPTION:"
        + escape(_("Appointment code: %(ref)s. Check in at the kiosk.", ref=appointment.reference)),
        "BEGIN:VALARM",
        "TRIGGER:-PT1H",
        "ACTION:DISPLAY",
        f"DESCRIPTION:{escape(summary)}",
        "END:VALARM",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    body = "\r\n".join(lines) + "\r\n"
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="rdv-{appointment.reference}.ics"'
    )
    return response


__all__ = ["bp", "zone"]
