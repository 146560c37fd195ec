"""Services of an office: names per language, ticket letter, target, priority rule, booking
settings and the kiosk's pictogram."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ...display.icons import DEFAULT_ICON
from ...extensions import db
from ...quality import audit
from ...queue.booking import update_booking_settings
from ...queue.errors import DomainError
from ...queue.sites import create_service, get_service, update_service
from . import bp, site_or_403
from .forms import SERVICE_FIELDSETS, service_form_class
from .sites import domain_error

BOOKING_NUMBERS = ("slot_minutes", "slot_capacity", "booking_days_ahead")


def _changes(form: Any, site: Any) -> dict[str, Any]:
    """The form as update_service's changes: each field named as its key, names per language."""
    changes: dict[str, Any] = {}
    for _legend, names in SERVICE_FIELDSETS:
        for name in names:
            value = form[name].data
            if value is None and name in BOOKING_NUMBERS:
                continue  # left empty: kept as it is
            changes[name] = float(value) if isinstance(value, Decimal) else value
    changes["icon"] = form.icon.data or None
    changes["names"] = {
        code: (form[f"name_{code}"].data or "").strip()
        for code in site.languages
        if (form[f"name_{code}"].data or "").strip()
    }
    return changes


@bp.get("/sites/<slug>/services")
def services(slug: str) -> Any:
    site = site_or_403(slug)
    return render_template("admin/services.html", site=site, default_icon=DEFAULT_ICON)


@bp.route("/sites/<slug>/services/new", methods=["GET", "POST"])
def service_new(slug: str) -> Any:
    site = site_or_403(slug)
    form = service_form_class(site, creating=True)(
        data={
            "target_wait_minutes": 20,
            "avg_service_minutes": 5,
            "position": len(site.services),
            "is_active": True,
            "priority_rule": "first",
            "slot_minutes": 15,
            "slot_capacity": 1,
            "booking_days_ahead": 14,
            "icon": "",
        }
        if request.method == "GET"
        else None
    )
    if form.validate_on_submit():
        changes = _changes(form, site)
        try:
            service = create_service(
                db.session,
                site,
                (form.code.data or "").strip().upper(),
                names=changes.pop("names"),
                prefix=changes.pop("prefix"),
                target_wait_minutes=changes.pop("target_wait_minutes"),
                avg_service_minutes=changes.pop("avg_service_minutes"),
                icon=changes.pop("icon"),
            )
            update_service(db.session, service, changes)
            update_booking_settings(service, changes)
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            domain_error(error, form)
        else:
            flash(_("Service %(name)s created.", name=service.name), "info")
            return redirect(url_for("admin.services", slug=site.slug))
    return render_template(
        "admin/service_form.html",
        site=site,
        form=form,
        service=None,
        fieldsets=SERVICE_FIELDSETS,
        default_icon=DEFAULT_ICON,
    ), (400 if form.errors else 200)


@bp.route("/sites/<slug>/services/<code>", methods=["GET", "POST"])
def service_edit(slug: str, code: str) -> Any:
    site = site_or_403(slug)
    service = get_service(db.session, site, code)
    data = None
    if request.method == "GET":
        data = {
            "prefix": service.prefix,
            "target_wait_minutes": service.target_wait_minutes,
            "avg_service_minutes": round(service.avg_service_seconds / 60, 1),
            "position": service.position,
            "is_active": service.is_active,
            "priority_rule": service.priority_rule.value,
            "booking_enabled": service.booking_enabled,
            "slot_minutes": service.slot_minutes,
            "slot_capacity": service.slot_capacity,
            "booking_days_ahead": service.booking_days_ahead,
            "icon": service.icon or "",
            "sms_name": service.sms_name or "",
            **{f"name_{lang}": service.names.get(lang, "") for lang in site.languages},
        }
    form = service_form_class(site, creating=False)(data=data)
    if form.validate_on_submit():
        changes = _changes(form, site)
        before = service.avg_service_seconds
        try:
            update_service(db.session, service, changes)
            update_booking_settings(service, changes)
            if service.avg_service_seconds != before:
                # Learned as tickets are finished, so not in the automatic audit.
                audit.record(
                    db.session,
                    object_type="service",
                    object_id=str(service.id),
                    label=service.code,
                    site_id=site.id,
                    changes={"avg_service_seconds": [before, service.avg_service_seconds]},
                )
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            domain_error(error, form)
        else:
            flash(_("Changes saved."), "info")
            return redirect(url_for("admin.services", slug=site.slug))
    return render_template(
        "admin/service_form.html",
        site=site,
        form=form,
        service=service,
        fieldsets=SERVICE_FIELDSETS,
        default_icon=DEFAULT_ICON,
    ), (400 if form.errors else 200)
