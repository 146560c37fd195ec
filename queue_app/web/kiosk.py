"""The touch kiosk at the entrance: a big button per service, the ticket on screen and on paper."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from ..display.icons import DEFAULT_ICON, ICON_DIR, available_icons
from ..extensions import db
from ..models import Device, DeviceKind, Site
from ..ops.devices import seen
from ..printing.spool import prints
from ..queue.accounts import resolve_token
from ..queue.errors import NotFound
from ..queue.sites import get_site
from ..queue.tickets import get_ticket_by_code
from ..security.lookup_limits import guards_lookup, refused_image

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")

TITLE = _l("Touch the service you came for")


@lru_cache(maxsize=64)
def icon_svg(name: str | None) -> Markup:
    """An icon's SVG markup, inlined so that it takes the button's colour."""
    if name not in available_icons():
        name = DEFAULT_ICON
    return Markup((ICON_DIR / f"{name}.svg").read_text(encoding="utf-8"))  # noqa: S704 (our files)


def _kiosk_device(site: Site, token: str | None) -> Device | None:
    if not token:
        return None
    found = resolve_token(db.session, token)
    if isinstance(found, Device) and found.site_id == site.id and found.kind == DeviceKind.KIOSK:
        seen(found)
        return found
    return None


def _in_languages(site: Site, message: Any) -> list[tuple[str, str]]:
    """A (lazy) phrase in each of the site's languages (the first is the big one)."""
    result = []
    for language in site.languages:
        with force_locale(language):
            result.append((language, str(message)))
    return result


def _offers_check_in(services: list[Any], setting: bool | None) -> bool:
    """The appointment check-in button: as set, or when a service takes appointments."""
    if setting is not None:
        return bool(setting)
    return any(service.booking_enabled for service in services)


@bp.get("/<slug>")
def kiosk(slug: str) -> Any:
    """The kiosk screen; the device token comes once in ``?token=`` and stays in the URL."""
    try:
        site = get_site(db.session, slug)
    except NotFound:
        return render_template("kiosk/refused.html", reason="site"), 404
    device = _kiosk_device(site, request.args.get("token"))
    if device is None:
        return render_template("kiosk/refused.html", reason="token"), 403
    services = [service for service in site.services if service.is_active]
    config = current_app.config
    kiosk_config = {
        "site": site.slug,
        "site_name": site.name,
        "timezone": site.timezone,
        "languages": site.languages,
        "prints": prints(device),
        "reset_seconds": int(config["KIOSK_RESET_SECONDS"]),
        "appointments": _offers_check_in(services, config["KIOSK_APPOINTMENTS"]),
        "alphabet": str(config["KIOSK_REFERENCE_ALPHABET"]),
        "reference_max": 12,
    }
    return render_template(
        "kiosk/kiosk.html",
        site=site,
        services=services,
        icon_svg=icon_svg,
        kiosk_config=kiosk_config,
        title=_in_languages(site, TITLE),
        alphabet=kiosk_config["alphabet"],
    )


@bp.get("/qr/<code>.svg")
@guards_lookup(refused_image)
def qr(code: str) -> Any:
    """The QR code of a ticket's tracking page, for the kiosk screen when paper is out."""
    from ..realtime.publish import track_url
    from .qr import qr_svg

    try:
        ticket = get_ticket_by_code(db.session, code[:16])
    except NotFound:
        return Response("not found", status=404, mimetype="text/plain")
    response = Response(qr_svg(track_url(ticket.code)), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response
