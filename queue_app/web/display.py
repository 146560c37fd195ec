"""The waiting-room display and the screen above a counter (front end in display/).

A screen is opened once with its device token in the query
(``/display/<slug>?token=…``); the token is then kept in a cookie for that
path, so the kiosk browser's start page may drop it. A wrong or revoked token
shows how to pair the screen, and no call.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from ..display import STATIC, TEMPLATES
from ..extensions import db
from ..models import Counter, Device, DeviceKind, Site, utcnow
from ..ops.devices import seen
from ..queue.accounts import resolve_token
from ..queue.errors import NotFound
from ..queue.sites import get_site
from ..realtime.publish import iso
from ..screens import server_version
from ..screens.builtin import builtin_voices

bp = Blueprint(
    "display",
    __name__,
    template_folder=str(TEMPLATES),
    static_folder=str(STATIC),
    static_url_path="/display/static",
)

COOKIE = "guichet_display"
COOKIE_MAX_AGE = 365 * 24 * 3600

# How a call is spoken, per language: {ticket} is "B 7", {counter} the counter's name.
SPEECH = {
    "fr": {"call": "Ticket {ticket}, {counter}", "counter_word": "guichet"},
    "en": {"call": "Ticket {ticket}, {counter}", "counter_word": "counter"},
    "wo": {"call": "Ticket {ticket}, {counter}", "counter_word": "guichet"},
}


def _display_device(slug: str) -> tuple[Site | None, Device | None, str | None]:
    """The site, and the display device whose token came with the request (else None)."""
    try:
        site = get_site(db.session, slug[:64])
    except NotFound:
        return None, None, None
    token = request.args.get("token") or request.cookies.get(COOKIE)
    if not token:
        return site, None, None
    found = resolve_token(db.session, token[:200])
    if (
        not isinstance(found, Device)
        or found.kind != DeviceKind.DISPLAY
        or found.site_id != site.id
    ):
        return site, None, None
    seen(found)
    return site, found, token


def _ui_language(site: Site | None) -> str:
    languages = current_app.config["LANGUAGES"]
    wanted = site.default_language if site is not None else None
    return wanted if wanted is not None and wanted in languages else str(languages[0])


def _pairing_page(site: Site | None, slug: str, status: int = 403) -> Any:
    with force_locale(_ui_language(site)):
        html = render_template("tv/pair.html", site=site, slug=slug)
    return html, status


def _config(site: Site, device: Device, token: str, **extra: Any) -> dict[str, Any]:
    language = site.default_language
    speech = SPEECH.get(language, SPEECH["fr"])
    builtin = builtin_voices()
    return {
        "slug": site.slug,
        "site_name": site.name,
        "timezone": site.timezone,
        "language": language,
        "ui_language": _ui_language(site),
        "token": token,
        "device": device.id,
        "server_version": server_version(),
        "server_now": iso(utcnow()),
        "board_calls": int(current_app.config["BOARD_CALLS"]),
        "announce_late_seconds": int(current_app.config["DISPLAY_ANNOUNCE_LATE_SECONDS"]),
        "flash_seconds": int(current_app.config["DISPLAY_FLASH_SECONDS"]),
        "chime_url": url_for("display.static", filename="sounds/chime.ogg"),
        "speech": speech,
        "voices": {
            "clips_url": url_for("api_screens.list_clips", slug=site.slug),
            "builtin": {
                lang: url_for("display.static", filename=f"voice/{lang}/") for lang in builtin
            },
        },
        "texts": {
            "offline": _("offline"),
            "no_call": _("Welcome"),
            "counter_closed": _("Closed"),
            "counter_paused": _("Paused"),
            "counter_free": _("Free"),
            "waiting_one": _("waiting"),
        },
        **extra,
    }


def _answer(html: str, token: str) -> Any:
    response = current_app.make_response(html)
    if request.args.get("token"):
        response.set_cookie(
            COOKIE,
            token,
            max_age=COOKIE_MAX_AGE,
            path=request.path,
            httponly=True,
            samesite="Lax",
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/display/<slug>")
def board_page(slug: str) -> Any:
    """The waiting-room screen: the current call big, recent calls, counts, clock, voice."""
    site, device, token = _display_device(slug)
    if site is None or device is None or token is None:
        return _pairing_page(site, slug)
    with force_locale(_ui_language(site)):
        html = render_template(
            "tv/board.html",
            site=site,
            device=device,
            config=_config(site, device, token, services=[s.code for s in device.services]),
        )
    return _answer(html, token)


@bp.get("/display/<slug>/counters/<int:counter_id>")
def counter_page(slug: str, counter_id: int) -> Any:
    """The small screen above a counter: the number being served there."""
    site, device, token = _display_device(slug)
    if site is None or device is None or token is None:
        return _pairing_page(site, slug)
    counter = db.session.get(Counter, counter_id)
    if counter is None or counter.site_id != site.id:
        return _pairing_page(site, slug, 404)
    with force_locale(_ui_language(site)):
        html = render_template(
            "tv/counter.html",
            site=site,
            counter=counter,
            config=_config(site, device, token, counter_id=counter.id, counter_name=counter.name),
        )
    return _answer(html, token)
