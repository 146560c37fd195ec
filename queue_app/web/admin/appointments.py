"""The appointments of an office's day, as the counters will receive them (read only)."""

from __future__ import annotations

from collections import Counter as Tally
from datetime import date, timedelta
from typing import Any

from flask import render_template, request
from flask_babel import lazy_gettext as _l

from ...extensions import db
from ...models import AppointmentStatus, BookingChannel, utcnow
from ...queue.booking import appointments_of_day, local_slot
from ...queue.days import service_day
from ...queue.phones import mask_phone
from . import bp, site_or_403

STATUS_LABELS = {
    AppointmentStatus.BOOKED: _l("Expected"),
    AppointmentStatus.CHECKED_IN: _l("Checked in"),
    AppointmentStatus.NO_SHOW: _l("Did not come"),
    AppointmentStatus.CANCELLED: _l("Cancelled"),
}
STATUS_BADGES = {
    AppointmentStatus.BOOKED: "info",
    AppointmentStatus.CHECKED_IN: "ok",
    AppointmentStatus.NO_SHOW: "warn",
    AppointmentStatus.CANCELLED: "",
}
CHANNEL_LABELS = {
    BookingChannel.WEB: _l("Web page"),
    BookingChannel.SMS: _l("SMS"),
    BookingChannel.WHATSAPP: _l("WhatsApp"),
    BookingChannel.STAFF: _l("Staff"),
}


@bp.get("/sites/<slug>/appointments")
def appointments(slug: str) -> Any:
    site = site_or_403(slug)
    today = service_day(site, utcnow())
    try:
        day = date.fromisoformat(request.args.get("date", "")[:10])
    except ValueError:
        day = today
    rows = [
        {
            "time": local_slot(site, a).strftime("%H:%M"),
            "service": a.service.name,
            "reference": a.reference,
            "name": a.name or "",
            "phone": mask_phone(a.phone) if a.phone else "—",
            "channel": CHANNEL_LABELS.get(a.channel, a.channel.value),
            "status": a.status,
            "ticket": a.ticket.label if a.ticket is not None else None,
        }
        for a in appointments_of_day(db.session, site, day)
    ]
    counts = Tally(row["status"] for row in rows)
    return render_template(
        "admin/appointments.html",
        site=site,
        day=day,
        today=today,
        previous=day - timedelta(days=1),
        following=day + timedelta(days=1),
        rows=rows,
        counts=counts,
        status_labels=STATUS_LABELS,
        status_badges=STATUS_BADGES,
        booking=any(s.booking_enabled for s in site.services),
    )
