"""Devices of an office: kiosks, displays, satisfaction tablets, print agents.

A device's token is shown once, when it is created or rotated, with a QR code
of the address that pairs the device (scanned with the device's camera, or
typed). Only its hash is kept; a lost device is revoked.
"""

from __future__ import annotations

from typing import Any

import segno
from flask import abort, current_app, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from ...extensions import db
from ...models import Device, DeviceKind, Site, utcnow
from ...queue.accounts import create_device, rotate_device_token
from . import bp, site_or_403
from .forms import DEVICE_LABELS, DeviceForm, RemoveForm, options


def pairing_targets(site: Site, device: Device, token: str, counter_id: int | None = None) -> list:
    """(label, address) the device opens once to pair; a tablet gets one per counter."""
    base = current_app.config["PUBLIC_URL"]
    if device.kind == DeviceKind.KIOSK:
        return [(_("Kiosk page"), f"{base}/kiosk/{site.slug}?token={token}")]
    if device.kind == DeviceKind.DISPLAY:
        return [(_("Display page"), f"{base}/display/{site.slug}?token={token}")]
    if device.kind == DeviceKind.TABLET:
        counters = sorted(site.counters, key=lambda c: (c.id != counter_id, c.position, c.id))
        return [(c.name, f"{base}/feedback/{c.id}?token={token}") for c in counters]
    return [
        (
            _("Command on the kiosk computer"),
            f"queue-app print-agent --server {base} --token {token} --printer usb://",
        )
    ]


def qr_data_uri(text: str) -> str:
    """An SVG QR code as a data: address (the CSP allows data: images)."""
    return str(segno.make(text, error="m").svg_data_uri(scale=4, border=2))


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


def _form(site: Site) -> DeviceForm:
    form = DeviceForm()
    form.counter.choices = options([("", "—")] + [(str(c.id), c.name) for c in site.counters])
    return form


@bp.get("/sites/<slug>/devices")
def devices(slug: str) -> Any:
    site = site_or_403(slug)
    return _list(site, _form(site))


def _list(site: Site, form: DeviceForm, status: int = 200) -> Any:
    rows = db.session.scalars(
        select(Device)
        .where(Device.site_id == site.id)
        .order_by(Device.revoked_at.isnot(None), Device.kind, Device.name)
    ).all()
    return render_template(
        "admin/devices.html",
        site=site,
        rows=rows,
        form=form,
        action_form=RemoveForm(),
        labels=DEVICE_LABELS,
    ), status


@bp.post("/sites/<slug>/devices")
def device_new(slug: str) -> Any:
    site = site_or_403(slug)
    form = _form(site)
    if not form.validate_on_submit():
        return _list(site, form, 400)
    device, token = create_device(
        db.session, site, DeviceKind(form.kind.data), (form.name.data or "").strip()
    )
    db.session.commit()
    counter_id = int(form.counter.data) if form.counter.data else None
    return _token_page(site, device, token, counter_id)


def _site_device(site: Site, device_id: int) -> Device:
    device = db.session.get(Device, device_id)
    if device is None or device.site_id != site.id:
        abort(404)
    return device


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
        device.revoked_at = device.revoked_at or utcnow()
        db.session.commit()
        flash(_("%(name)s can no longer connect.", name=device.name), "info")
    return redirect(url_for("admin.devices", slug=site.slug))
