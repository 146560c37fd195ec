"""Offices: create (admins), name, time zone, languages, display message, hours, closures,
commitments."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from ...extensions import db
from ...models import WEEKDAYS, Device, utcnow
from ...quality.commitments import commitments_of, describe, measure, previous_month
from ...quality.commitments import set_commitments as save_commitments
from ...queue.errors import DomainError, InvalidInput
from ...queue.phones import normalize_phone
from ...queue.sites import clear_hours, create_site, set_closures, set_hours, update_site
from ...screens import set_display_message
from . import bp, managed_sites, require_admin, site_or_403
from .forms import (
    COMMITMENT_ROWS,
    HOURS_MODES,
    INTERVALS_PER_DAY,
    WEEKDAY_LABELS,
    ClosureForm,
    DisplayMessageForm,
    RemoveForm,
    SiteCreateForm,
    SiteForm,
    commitments_form_class,
    hours_form_class,
    options,
)


def languages_of(form: Any) -> list[str]:
    """The main language first, then the others ticked."""
    main = form.default_language.data
    return [main, *(code for code in form.languages.data or [] if code != main)]


def domain_error(error: DomainError, form: Any = None) -> None:
    """Show a refusal of the domain next to its field when there is one, else on top."""
    name = str(error.details.get("field", ""))
    if form is not None and name in form:
        form[name].errors = [*form[name].errors, str(error.message)]
    else:
        flash(str(error.message), "error")


@bp.get("/sites")
def sites() -> Any:
    rows = []
    for site in managed_sites():
        devices = db.session.scalar(
            select(func.count(Device.id)).where(
                Device.site_id == site.id, Device.revoked_at.is_(None)
            )
        )
        rows.append((site, devices))
    return render_template("admin/sites.html", rows=rows)


@bp.route("/sites/new", methods=["GET", "POST"])
def site_new() -> Any:
    require_admin()
    form = SiteCreateForm()
    if form.validate_on_submit():
        try:
            site = create_site(
                db.session,
                (form.slug.data or "").strip().lower(),
                form.name.data or "",
                form.timezone.data or "",
                languages=languages_of(form),
            )
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            domain_error(error, form)
        else:
            flash(_("Office created. Add its services, counters and opening hours."), "info")
            return redirect(url_for("admin.services", slug=site.slug))
    return render_template("admin/site_new.html", form=form), 400 if form.errors else 200


def _site_data(site: Any) -> dict[str, Any]:
    return {
        "name": site.name,
        "timezone": site.timezone,
        "default_language": site.default_language,
        "languages": site.languages[1:],
        "sms_keyword": site.sms_keyword or "",
        "alert_phone": site.alert_phone or "",
    }


@bp.route("/sites/<slug>", methods=["GET", "POST"])
def site_edit(slug: str) -> Any:
    site = site_or_403(slug)
    form = SiteForm(data=_site_data(site) if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            update_site(
                db.session,
                site,
                {
                    "name": form.name.data,
                    "timezone": form.timezone.data,
                    "languages": languages_of(form),
                    "sms_keyword": form.sms_keyword.data,
                    "alert_phone": _alert_phone(form),
                },
            )
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            domain_error(error, form)
        else:
            flash(_("Changes saved."), "info")
            return redirect(url_for("admin.site_edit", slug=site.slug))
    message_form = DisplayMessageForm(formdata=None, data={"message": site.display_message})
    return _edit_page(site, form, message_form)


def _alert_phone(form: Any) -> str | None:
    """The alert phone in E.164 (InvalidInput on the field when it is no phone number)."""
    raw = (form.alert_phone.data or "").strip()
    if not raw:
        return None
    try:
        return normalize_phone(raw, current_app.config["DEFAULT_PHONE_REGION"])
    except InvalidInput as error:
        raise InvalidInput(field="alert_phone", reason="not a valid phone number") from error


def _edit_page(site: Any, form: Any, message_form: Any) -> Any:
    status = 400 if form.errors or message_form.errors else 200
    from ...sms.offices import default_keyword

    return render_template(
        "admin/site_edit.html",
        site=site,
        form=form,
        message_form=message_form,
        default_sms_keyword=default_keyword(site),
    ), status


@bp.post("/sites/<slug>/display-message")
def display_message(slug: str) -> Any:
    """Set the displays' message line; the clear button (or an empty line) clears it."""
    site = site_or_403(slug)
    form = DisplayMessageForm()
    if form.validate_on_submit():
        try:
            set_display_message(
                db.session, site, None if "clear" in request.form else form.message.data
            )
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            domain_error(error, form)
        else:
            if site.display_message:
                flash(_("The message is on the displays."), "info")
            else:
                flash(_("The displays show no message any more."), "info")
            return redirect(url_for("admin.site_edit", slug=site.slug) + "#display-message")
    return _edit_page(site, SiteForm(formdata=None, data=_site_data(site)), form)


def _hours_from(form: Any) -> dict[str, list[list[str]]]:
    hours: dict[str, list[list[str]]] = {}
    for day in WEEKDAYS:
        intervals = []
        for index in range(INTERVALS_PER_DAY):
            start = form[f"{day}_{index}_start"].data
            end = form[f"{day}_{index}_end"].data
            if start and end:
                intervals.append([start.strftime("%H:%M"), end.strftime("%H:%M")])
            elif start or end:
                form[f"{day}_{index}_end"].errors = [_("Give both the opening and closing time.")]
        if intervals:
            hours[day] = intervals
    return hours


@bp.route("/sites/<slug>/hours", methods=["GET", "POST"])
def site_hours(slug: str) -> Any:
    site = site_or_403(slug)
    form_class = hours_form_class()
    if request.method == "GET":
        data: dict[str, Any] = {"mode": hours_mode(site)}
        for day, intervals in (site.hours or {}).items():
            for index, (start, end) in enumerate(intervals[:INTERVALS_PER_DAY]):
                data[f"{day}_{index}_start"] = _time(start)
                data[f"{day}_{index}_end"] = _time(end)
        form = form_class(data=data)
    else:
        form = form_class()
    if form.validate_on_submit():
        mode = form.mode.data
        hours = _hours_from(form) if mode == "weekly" else {}
        if mode == "weekly" and not hours and not any(field.errors for field in form):
            form.mode.errors = [
                _("Give at least one opening period, or choose another option above.")
            ]
        if not any(field.errors for field in form):
            try:
                if mode == "always":
                    clear_hours(db.session, site)
                else:
                    set_hours(db.session, site, hours)
                db.session.commit()
            except DomainError as error:
                db.session.rollback()
                flash(_("Opening hours not saved: %(reason)s", reason=_reason(error)), "error")
            else:
                flash(_("Opening hours saved."), "info")
                return redirect(url_for("admin.site_hours", slug=site.slug))
    return render_template(
        "admin/site_hours.html",
        site=site,
        form=form,
        weekdays=WEEKDAYS,
        weekday_labels=WEEKDAY_LABELS,
        mode=hours_mode(site),
        mode_labels=HOURS_MODES,
        intervals=range(INTERVALS_PER_DAY),
        closure_form=ClosureForm(),
        remove_form=RemoveForm(),
        today=date.today(),  # noqa: DTZ011 (only the date picker's minimum)
    ), (400 if form.errors else 200)


def hours_mode(site: Any) -> str:
    """How the office opens today: "always" (no hours), "closed" (no period at all), "weekly"."""
    if site.hours is None:
        return "always"
    return "weekly" if any(site.hours.values()) else "closed"


def _time(value: str) -> Any:
    from datetime import time

    hours, _sep, minutes = value.partition(":")
    return time(int(hours), int(minutes))


def _reason(error: DomainError) -> str:
    reason = error.details.get("reason")
    day = error.details.get("field")
    label = WEEKDAY_LABELS.get(str(day), day)
    return f"{label} — {reason}" if reason else str(error.message)


@bp.post("/sites/<slug>/closures")
def closure_add(slug: str) -> Response:
    site = site_or_403(slug)
    form = ClosureForm()
    if form.validate_on_submit() and form.day.data is not None:
        days = {closure.day for closure in site.closures} | {form.day.data}
        set_closures(db.session, site, sorted(days))
        db.session.commit()
        flash(_("Closure added."), "info")
    else:
        flash(_("Give a valid date."), "error")
    return redirect(url_for("admin.site_hours", slug=site.slug) + "#closures")


@bp.post("/sites/<slug>/closures/<day>/remove")
def closure_remove(slug: str, day: str) -> Response:
    site = site_or_403(slug)
    form = RemoveForm()
    if form.validate_on_submit():
        try:
            gone = date.fromisoformat(day)
        except ValueError:
            gone = None
        days = [closure.day for closure in site.closures if closure.day != gone]
        set_closures(db.session, site, days)
        db.session.commit()
        flash(_("Closure removed."), "info")
    return redirect(url_for("admin.site_hours", slug=site.slug) + "#closures")


@bp.route("/sites/<slug>/commitments", methods=["GET", "POST"])
def site_commitments(slug: str) -> Any:
    site = site_or_403(slug)
    form_class = commitments_form_class()
    existing = commitments_of(db.session, site)
    services = {s.id: s for s in site.services}
    if request.method == "GET":
        data = {
            f"row_{i}": {
                "kind": c.kind.value,
                "target_pct": c.target_pct,
                "threshold": c.threshold,
                "service": services[c.service_id].code if c.service_id in services else "",
            }
            for i, c in enumerate(existing[:COMMITMENT_ROWS])
        }
        form = form_class(data=data)
    else:
        form = form_class()
    choices = options([("", _("All services"))] + [(s.code, s.name) for s in site.services])
    for index in range(COMMITMENT_ROWS):
        form[f"row_{index}"].service.choices = choices
    if form.validate_on_submit():
        items = []
        for index in range(COMMITMENT_ROWS):
            row = form[f"row_{index}"]
            if not row.kind.data:
                continue
            items.append(
                {
                    "kind": row.kind.data,
                    "target_pct": row.target_pct.data,
                    "threshold": row.threshold.data,
                    "service": row.service.data if row.kind.data == "wait" else None,
                }
            )
        try:
            save_commitments(db.session, site, items)
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(_("Commitments not saved: %(reason)s", reason=error.message), "error")
        else:
            flash(_("Commitments published."), "info")
            return redirect(url_for("admin.site_commitments", slug=site.slug))
    first, last = previous_month(site, utcnow())
    measured = measure(db.session, site, first, last)
    return render_template(
        "admin/site_commitments.html",
        site=site,
        form=form,
        rows=range(COMMITMENT_ROWS),
        measured=measured,
        describe=describe,
        first=first,
        last=last,
    ), (400 if form.errors else 200)
