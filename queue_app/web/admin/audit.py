"""The change log: who changed which setting, when, from what to what."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ...extensions import db
from ...models import AuditEntry
from . import bp, is_admin, managed_sites

PAGE = 50
OBJECT_LABELS = {
    "site": _l("Office"),
    "service": _l("Service"),
    "counter": _l("Counter"),
    "device": _l("Device"),
    "user": _l("User"),
    "commitment": _l("Commitment"),
    "complaint": _l("Complaint"),
    "sms_gateway": _l("SMS gateway"),
    "voice_clip": _l("Recording"),
    "alert": _l("Alert"),
}
ACTION_LABELS = {
    "create": _l("created"),
    "update": _l("changed"),
    "delete": _l("removed"),
    # Alerts (ops/alerts.py): opened by the evaluation, closed when their cause ends.
    "open": _l("opened"),
    "close": _l("closed"),
}
FIELD_LABELS = {
    "name": _l("name"),
    "names": _l("names"),
    "timezone": _l("time zone"),
    "languages": _l("languages"),
    "hours": _l("opening hours"),
    "closures": _l("closures"),
    "display_message": _l("display message"),
    "code": _l("code"),
    "prefix": _l("ticket letter"),
    "target_wait_minutes": _l("target wait"),
    "avg_service_seconds": _l("usual time at the counter (s)"),
    "is_active": _l("active"),
    "position": _l("order"),
    "priority_rule": _l("priority rule"),
    "services": _l("services (weight)"),
    "kind": _l("kind"),
    "revoked": _l("revoked"),
    "printer": _l("printer"),
    "printer_options": _l("printer options"),
    "print_agent": _l("print agent"),
    "services_shown": _l("services shown"),
    "gateway": _l("gateway"),
    "options": _l("settings"),
    "secrets": _l("credentials"),
    "language": _l("language"),
    "key": _l("what it says"),
    "content_type": _l("sound type"),
    "size": _l("size (bytes)"),
    "sha256": _l("digest of the sound"),
    "token": _l("token"),
    "email": _l("e-mail"),
    "full_name": _l("full name"),
    "role": _l("role"),
    "locale": _l("language"),
    "sites": _l("offices"),
    "password": _l("password"),
    "threshold": _l("limit"),
    "target_pct": _l("share"),
    "service": _l("service"),
    "status": _l("status"),
    "assigned_to": _l("assigned to"),
    "answered": _l("answered"),
    "answer_by_sms": _l("answer by SMS"),
    "booking_enabled": _l("appointments open"),
    "slot_minutes": _l("length of a slot (minutes)"),
    "slot_capacity": _l("citizens per slot"),
    "booking_days_ahead": _l("bookable up to (days ahead)"),
    "icon": _l("pictogram on the kiosk"),
    "sms_name": _l("short name in SMS"),
    "sms_keyword": _l("office keyword in SMS"),
}
# Who made a change, when it was not a person signed in: "system" (a job, the command
# line) or "device:<name>" (a kiosk, a display…).
SYSTEM_ACTOR = "system"
DEVICE_ACTOR = "device:"


def _value_labels() -> dict[str, dict[str, Any]]:
    from .complaints import STATUS_LABELS
    from .forms import DEVICE_LABELS, ROLE_LABELS

    return {
        "status": {k.value: v for k, v in STATUS_LABELS.items()},
        "role": {k.value: v for k, v in ROLE_LABELS.items()},
        "kind": {
            **{k.value: v for k, v in DEVICE_LABELS.items()},
            "wait": _l("Waiting time"),
            "satisfaction": _l("Satisfaction"),
            "complaint_answer": _l("Answer to complaints"),
            # Alerts (ops/alerts.py).
            "device_offline": _l("Device not answering"),
            "printer_paper_out": _l("Printer out of paper"),
            "printer_paper_low": _l("Printer paper running out"),
            "printer_cover_open": _l("Printer cover open"),
            "printer_offline": _l("Printer not answering"),
            "sms_failing": _l("SMS not going out"),
            "wait_over_target": _l("Wait over target"),
        },
        "priority_rule": {"first": _l("Priority first"), "none": _l("Arrival order")},
    }


def _weekly_hours(hours: dict[str, Any]) -> str:
    """{"monday": [["08:00", "12:30"]]} → "lundi 08:00–12:30" in the page's language."""
    from babel.dates import get_day_names
    from flask_babel import get_locale

    from ...models.sites import WEEKDAYS

    names = get_day_names("wide", locale=get_locale())
    days = []
    for index, day in enumerate(WEEKDAYS):
        periods = hours.get(day) or []
        if periods:
            spans = ", ".join(f"{start}–{end}" for start, end in periods)
            days.append(f"{names[index]} {spans}")
    return "; ".join(days) or str(_("closed every day"))


def show_actor(actor: str) -> str:
    """Who made a change as people read it: a person's address, "System", or the device."""
    if actor == SYSTEM_ACTOR:
        return str(_("System"))
    if actor.startswith(DEVICE_ACTOR):
        return str(_("Device %(name)s", name=actor.removeprefix(DEVICE_ACTOR)))
    if actor.startswith("cli:"):
        return str(_("Command line (%(command)s)", command=actor.removeprefix("cli:")))
    return actor


def show_object(object_type: str, label: str) -> str:
    """The object's own label, with the codes of commitments and devices in words."""
    values = _value_labels()["kind"]
    if object_type == "commitment" and label in values:
        return str(values[label])
    if object_type == "device" and " · " in label:
        kind, name = label.split(" · ", 1)
        return f"{values.get(kind, kind)} · {name}"
    if object_type == "voice_clip" and "/" in label:
        language, key = label.split("/", 1)
        from flask_babel import get_locale

        try:
            from babel import Locale

            spoken = Locale.parse(language).get_display_name(get_locale()) or language
        except (ValueError, TypeError):
            spoken = language
        return f"{spoken} · {key}"
    return label


def show_value(value: Any, field: str | None = None) -> str:
    """A recorded value as people read it (codes of known fields in the page's language)."""
    if field == "hours" and not value:
        # No hours at all is "always open"; hours without any period, "closed every day".
        return str(_("open at any time") if value is None else _("closed every day"))
    if field == "hours" and isinstance(value, dict):
        return _weekly_hours(value)
    if field is not None and isinstance(value, str):
        label = _value_labels().get(field, {}).get(value)
        if label is not None:
            return str(label)
    if value is None or value == [] or value == {}:
        return "—"
    if value is True:
        return _("yes")
    if value is False:
        return _("no")
    if isinstance(value, list):
        return ", ".join(show_value(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {show_value(v)}" for k, v in value.items())
    return str(value)


@bp.app_template_global()
def audit_field(name: str) -> str:
    return str(FIELD_LABELS.get(name, name))


@bp.get("/audit")
def audit() -> Any:
    sites = managed_sites()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    slug = request.args.get("site") or ""
    statement = select(AuditEntry)
    chosen = [s for s in sites if s.slug == slug]
    if chosen:
        statement = statement.where(AuditEntry.site_id == chosen[0].id)
    elif not is_admin():
        statement = statement.where(AuditEntry.site_id.in_([s.id for s in sites]))
    rows = db.session.scalars(
        statement.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .offset((page - 1) * PAGE)
        .limit(PAGE + 1)
    ).all()
    return render_template(
        "admin/audit.html",
        rows=rows[:PAGE],
        more=len(rows) > PAGE,
        page=page,
        sites=sites,
        slug=slug if chosen else "",
        site_tz={s.id: s.timezone for s in sites},
        object_labels=OBJECT_LABELS,
        action_labels=ACTION_LABELS,
        show_value=show_value,
        show_actor=show_actor,
        show_object=show_object,
    )
