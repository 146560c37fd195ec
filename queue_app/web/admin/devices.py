"""Devices of an office: kiosks, displays, satisfaction tablets, print agents.

A device's token is shown once, when it is created or rotated, with a QR code
of each address that pairs the device (scanned with the device's camera, or
typed). Only its hash is kept; a lost device is revoked. A kiosk's page sets
its ticket printer and shows how the printer is; a display's page, the
services it shows. Tickets whose printing failed are listed with a reprint
button.
"""

from __future__ import annotations

from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from ...extensions import db
from ...models import Device, DeviceKind, PrintJobStatus, Site, utcnow
from ...ops.devices import is_online, last_seen
from ...printing import spool
from ...printing.devices import configure_printer, refresh_printer_status
from ...queue import Actor
from ...queue.accounts import create_device, revoke_device, rotate_device_token
from ...queue.errors import DomainError
from ...queue.sites import get_service
from ...screens import set_device_services
from ..qr import qr_data_uri
from . import actor, bp, site_or_403
from .forms import DEVICE_LABELS, RemoveForm, device_form_class

# A kiosk's layout options as LayoutOptions has them by default: not stored when chosen.
LAYOUT_DEFAULTS = {"paper_width_mm": 80, "codepage": "cp1252", "qr": "native"}


def pairing_targets(
    site: Site, device: Device, token: str, counter_id: int | None = None
) -> list[tuple[str, str]]:
    """(label, address) the device opens once to pair; the chosen counter's first."""
    base = current_app.config["PUBLIC_URL"]
    counters = sorted(site.counters, key=lambda c: (c.id != counter_id, c.position, c.id))
    if device.kind == DeviceKind.KIOSK:
        return [(_("Kiosk page"), f"{base}/kiosk/{site.slug}?token={token}")]
    if device.kind == DeviceKind.DISPLAY:
        board = (_("Waiting room"), f"{base}/display/{site.slug}?token={token}")
        screens = [
            (
                _("Screen above %(counter)s", counter=c.name),
                f"{base}/display/{site.slug}/counters/{c.id}?token={token}",
            )
            for c in counters
        ]
        if counter_id is not None and screens:
            return [screens[0], board, *screens[1:]]
        return [board, *screens]
    if device.kind == DeviceKind.TABLET:
        return [
            (_("Tablet of %(counter)s", counter=c.name), f"{base}/feedback/{c.id}?token={token}")
            for c in counters
        ]
    return [
        (
            _("Command on the kiosk computer"),
            f"queue-app print-agent --server {base} --token {token} --printer usb://",
        )
    ]


def _token_page(site: Site, device: Device, token: str, counter_id: int | None = None) -> Any:
    targets = pairing_targets(site, device, token, counter_id)
    scannable = device.kind != DeviceKind.PRINTER
    response = make_response(
        render_template(
            "admin/device_token.html",
            site=site,
            device=device,
            token=token,
            targets=[
                (label, address, qr_data_uri(address) if scannable else None)
                for label, address in targets
            ],
            kind_label=DEVICE_LABELS[device.kind],
        )
    )
    # The token is on this page only: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response


def _agents(site: Site) -> list[tuple[str, str]]:
    """The site's print agents a kiosk may print through."""
    return [
        (str(device.id), device.name)
        for device in db.session.scalars(
            select(Device)
            .where(
                Device.site_id == site.id,
                Device.kind == DeviceKind.PRINTER,
                Device.revoked_at.is_(None),
            )
            .order_by(Device.name)
        )
    ]


def _create_form(site: Site) -> Any:
    return device_form_class(site, creating=True)()


def _show_error(error: DomainError, form: Any) -> None:
    """A refusal of the domain next to its field, with its reason (a printer URL's mistake)."""
    name = str(error.details.get("field", ""))
    reason = error.details.get("reason")
    text = f"{error.message} ({reason})" if reason else str(error.message)
    if name in form:
        form[name].errors = [*form[name].errors, text]
    else:
        flash(text, "error")


@bp.get("/sites/<slug>/devices")
def devices(slug: str) -> Any:
    site = site_or_403(slug)
    return _list(site, _create_form(site))


def _list(site: Site, form: Any, status: int = 200) -> Any:
    rows = db.session.scalars(
        select(Device)
        .where(Device.site_id == site.id)
        .order_by(Device.revoked_at.isnot(None), Device.kind, Device.name)
    ).all()
    failed = spool.list_jobs(db.session, site, status=PrintJobStatus.FAILED, limit=50)
    now = utcnow()
    # Seen by this process since the last write counts too (ops/devices.py).
    seen = {device.id: last_seen(device, now) for device in rows}
    online = {key: is_online(at, now, current_app.config) for key, at in seen.items()}
    return render_template(
        "admin/devices.html",
        site=site,
        rows=rows,
        seen=seen,
        online=online,
        form=form,
        action_form=RemoveForm(),
        labels=DEVICE_LABELS,
        failed=failed,
    ), status


@bp.post("/sites/<slug>/devices")
def device_new(slug: str) -> Any:
    site = site_or_403(slug)
    form = _create_form(site)
    if not form.validate_on_submit():
        return _list(site, form, 400)
    kind = DeviceKind(form.kind.data)
    try:
        device, token = create_device(db.session, site, kind, (form.name.data or "").strip())
        if kind == DeviceKind.KIOSK and (form.printer.data or "").strip():
            configure_printer(db.session, device, {"printer": form.printer.data})
        if kind == DeviceKind.DISPLAY and form.services.data:
            services = [get_service(db.session, site, code) for code in form.services.data]
            set_device_services(db.session, device, services)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        _show_error(error, form)
        return _list(site, form, 400)
    counter_id = int(form.counter.data) if form.counter.data else None
    return _token_page(site, device, token, counter_id)


def _site_device(site: Site, device_id: int) -> Device:
    device = db.session.get(Device, device_id)
    if device is None or device.site_id != site.id:
        abort(404)
    return device


def _device_data(device: Device) -> dict[str, Any]:
    options = {**LAYOUT_DEFAULTS, **(device.printer_options or {})}
    footer = options.get("footer") or []
    return {
        "name": device.name,
        "printer": device.printer or "",
        "print_agent": str(device.print_agent_id or ""),
        "paper_width_mm": str(options["paper_width_mm"]),
        "codepage": str(options["codepage"]),
        "qr": str(options["qr"]),
        "footer": "\n".join(footer) if isinstance(footer, list) else str(footer),
        "services": [service.code for service in device.services],
    }


def _printer_changes(device: Device, form: Any) -> dict[str, Any]:
    """The kiosk form as configure_printer's changes; options left at their default are not kept."""
    options = dict(device.printer_options or {})
    chosen = {
        "paper_width_mm": int(form.paper_width_mm.data),
        "codepage": form.codepage.data,
        "qr": form.qr.data,
    }
    for key, value in chosen.items():
        if value == LAYOUT_DEFAULTS[key]:
            options.pop(key, None)
        else:
            options[key] = value
    footer = [line.strip() for line in (form.footer.data or "").splitlines() if line.strip()]
    if footer:
        options["footer"] = footer
    else:
        options.pop("footer", None)
    return {
        "printer": form.printer.data,
        "printer_options": options,
        "print_agent": int(form.print_agent.data) if form.print_agent.data else None,
    }


@bp.route("/sites/<slug>/devices/<int:device_id>", methods=["GET", "POST"])
def device_edit(slug: str, device_id: int) -> Any:
    """A device's settings: its name; a kiosk's printer; the services a display shows."""
    site = site_or_403(slug)
    device = _site_device(site, device_id)
    if request.method == "GET" and request.args.get("refresh"):
        refresh_printer_status(db.session, device)
        return redirect(url_for("admin.device_edit", slug=site.slug, device_id=device.id))
    form_class = device_form_class(site, creating=False, kind=device.kind, agents=_agents(site))
    form = form_class(data=_device_data(device) if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            device.name = (form.name.data or "").strip()
            if device.kind == DeviceKind.KIOSK:
                configure_printer(db.session, device, _printer_changes(device, form))
            if device.kind == DeviceKind.DISPLAY:
                codes = form.services.data or []
                services = [get_service(db.session, site, code) for code in codes]
                set_device_services(db.session, device, services)
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            _show_error(error, form)
        else:
            flash(_("Changes saved."), "info")
            return redirect(url_for("admin.device_edit", slug=site.slug, device_id=device.id))
    printing_for = []
    if device.kind == DeviceKind.PRINTER:
        printing_for = list(
            db.session.scalars(
                select(Device).where(Device.print_agent_id == device.id).order_by(Device.name)
            )
        )
    return render_template(
        "admin/device_form.html",
        site=site,
        device=device,
        form=form,
        kind_label=DEVICE_LABELS[device.kind],
        pending=spool.pending_count(db.session, device) if device.kind == DeviceKind.KIOSK else 0,
        printing_for=printing_for,
    ), (400 if form.errors else 200)


@bp.post("/sites/<slug>/devices/<int:device_id>/rotate")
def device_rotate(slug: str, device_id: int) -> Any:
    site = site_or_403(slug)
    device = _site_device(site, device_id)
    if not RemoveForm().validate_on_submit():
        abort(400)
    token = rotate_device_token(db.session, device)
    db.session.commit()
    return _token_page(site, device, token)


@bp.post("/sites/<slug>/devices/<int:device_id>/revoke")
def device_revoke(slug: str, device_id: int) -> Response:
    site = site_or_403(slug)
    device = _site_device(site, device_id)
    if RemoveForm().validate_on_submit():
        revoke_device(db.session, device)
        db.session.commit()
        flash(_("%(name)s can no longer connect.", name=device.name), "info")
    return redirect(url_for("admin.devices", slug=site.slug))


@bp.post("/sites/<slug>/print-jobs/<int:job_id>/reprint")
def print_job_reprint(slug: str, job_id: int) -> Response:
    """Send a ticket whose printing failed back to its printer (the spool's own reprint)."""
    site = site_or_403(slug)
    job = spool.get_job(db.session, job_id)
    if job.site_id != site.id:
        abort(404)
    if RemoveForm().validate_on_submit():
        try:
            spool.retry_job(db.session, job, actor=Actor(user=actor()))
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(str(error.message), "error")
        else:
            label = job.ticket.label if job.ticket is not None else job.id
            flash(_("Ticket %(label)s sent to the printer again.", label=label), "info")
    return redirect(url_for("admin.devices", slug=site.slug) + "#failed-prints")
