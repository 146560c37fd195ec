"""A ticket as its kiosk's printer prints it (the layout itself is guichet_printer's)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from guichet_printer.layout import LayoutOptions, TicketData, render_ticket

from ..infra.position_text import phrases
from ..models import Device, Ticket
from ..queue.days import zone


def ticket_labels() -> dict[str, str]:
    """The printed phrases in the current locale ({n} is filled in by the layout)."""
    said = phrases()
    return {
        "ahead": said["ahead_many"],
        "ahead_one": said["ahead_one"],
        "next": said["next"],
        "wait": said["wait"],
        "scan": _("Follow your turn on your phone"),
        "code": _("Tracking code:"),
        "priority": _("PRIORITY"),
        "reprint": _("DUPLICATE"),
    }


def layout_options(device: Device | None) -> LayoutOptions:
    """The kiosk's printer options, with the site-wide footer when it sets none."""
    options: dict[str, Any] = dict(device.printer_options or {}) if device is not None else {}
    if not options.get("footer"):
        options["footer"] = list(current_app.config.get("PRINT_FOOTER") or [])
    return LayoutOptions.from_mapping(options)


def ticket_data(
    ticket: Ticket, position: int | None, wait: int | None, *, reprint: bool = False
) -> TicketData:
    """What the paper says, in the site's first language and time zone."""
    from ..realtime.publish import track_url

    site, service = ticket.site, ticket.service
    language = site.default_language
    with force_locale(language):
        labels = ticket_labels()
    issued = ticket.issued_at.astimezone(zone(site.timezone)).strftime("%d/%m/%Y %H:%M")
    others = [
        str(service.names[code])
        for code in site.languages[1:]
        if service.names.get(code) and service.names[code] != service.name_in(language)
    ]
    return TicketData(
        site_name=site.name,
        service_name=service.name_in(language),
        label=ticket.label,
        issued_at=issued,
        track_url=track_url(ticket.code),
        track_code=ticket.code,
        position=position,
        wait_minutes=wait,
        priority=ticket.priority_rank == 0,
        reprint=reprint,
        other_names=others,
        labels=labels,
    )


def render(
    ticket: Ticket,
    device: Device | None,
    position: int | None,
    wait: int | None,
    *,
    reprint: bool = False,
) -> bytes:
    """The ESC/POS bytes of a ticket for a kiosk's printer."""
    return render_ticket(
        ticket_data(ticket, position, wait, reprint=reprint), layout_options(device)
    )
