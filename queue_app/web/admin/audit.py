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
}
ACTION_LABELS = {"create": _l("created"), "update": _l("changed"), "delete": _l("removed")}
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
}


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
        },
        "priority_rule": {"first": _l("Priority first"), "none": _l("Arrival order")},
    }


def show_value(value: Any, field: str | None = None) -> str:
    """A recorded value as people read it (codes of known fields in the page's language)."""
    if field == "hours" and not value:
        # No hours at all is "always open"; hours without any period, "closed every day".
        return str(_("open at any time") if value is None else _("closed every day"))
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
    )
