"""Provider webhooks: /sms/twilio (SMS and WhatsApp, TwiML), /sms/android, /sms/orange/<secret>.

Each request is verified first (Twilio's signature over PUBLIC_URL + path,
the Android gateway's HMAC, Orange's URL secret): a forged one gets 403 (404
for a wrong Orange secret) and changes nothing. Inbound messages are
deduplicated by the provider's message id, so a retried webhook books nothing
twice. Answers are quick: replies go out through the outbox.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from typing import Any, cast

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy import select

from ..extensions import csrf, db
from ..models import Site, SmsGatewaySettings
from . import inbound, outbox, registry
from .gateway import GatewayError, Inbound, SmsGateway, StatusUpdate, WebhookRequest

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__, url_prefix="/sms")
csrf.exempt(bp)

TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _webhook_request() -> WebhookRequest:
    # The URL the provider called, as seen from outside (behind a reverse proxy the
    # request's own host and scheme are the proxy's), with its query string.
    url = current_app.config["PUBLIC_URL"] + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    return WebhookRequest(
        url=url,
        # Werkzeug's Headers: a mapping whose look-ups ignore case, as HTTP's do.
        headers=cast("Mapping[str, str]", request.headers),
        body=request.get_data(cache=True),
        form=request.form.to_dict(flat=True),
    )


def _gateway(name: str, site: Site | None) -> SmsGateway | None:
    config = current_app.config
    settings = db.session.get(SmsGatewaySettings, site.id) if site is not None else None
    try:
        return registry.build(name, registry.resolved(name, settings, config), config)
    except GatewayError:
        return None


def _handle(
    provider: str, verified: Site | None, hint: str | None, items: list[Inbound | StatusUpdate]
) -> None:
    """Status updates applied; each message answered for its office, or the offices that
    share its number (the citizen then names or picks one)."""
    config = current_app.config
    for item in items:
        if isinstance(item, StatusUpdate):
            outbox.apply_status(db.session, item)
            continue
        sites = inbound.sites_for(db.session, provider, item.to, config, hint, verified)
        if sites and item.message_id:
            inbound.receive_for(db.session, sites, item, config=config)
        else:
            log.warning("inbound %s message for no known site dropped", item.provider)
    db.session.commit()


def _candidates(name: str, hint: str | None) -> list[Site | None]:
    """Sites whose credentials may have signed this request (own settings first)."""
    if hint:
        site = db.session.scalar(select(Site).where(Site.slug == hint))
        return [site] if site is not None else []
    own = [db.session.get(Site, s.site_id) for s in registry.sites_using(db.session, name)]
    return [*own, None]


@bp.post("/twilio")
def twilio() -> Any:
    """Twilio: inbound SMS or WhatsApp message, or a status callback; answers TwiML."""
    hook = _webhook_request()
    hint = request.args.get("site")
    to = hook.form.get("To", "").removeprefix("whatsapp:")
    site = inbound.site_for(db.session, "twilio", to, current_app.config, hint)
    verified = False
    for candidate in [site, *(c for c in _candidates("twilio", None) if c is not site)]:
        gateway = _gateway("twilio", candidate)
        if gateway is not None and gateway.verify_webhook(hook):
            verified = True
            break
    if not verified or gateway is None:
        abort(403)
    _handle("twilio", candidate, hint, gateway.parse_webhook(hook))
    return Response(TWIML_EMPTY, mimetype="text/xml")


@bp.post("/android")
def android() -> Any:
    """SMS Gateway for Android: sms:received, sms:sent, sms:delivered, sms:failed."""
    hook = _webhook_request()
    for site in _candidates("android", request.args.get("site")):
        gateway = _gateway("android", site)
        if gateway is not None and gateway.verify_webhook(hook):
            _handle("android", site, request.args.get("site"), gateway.parse_webhook(hook))
            return {"ok": True}
    abort(403)


@bp.post("/orange/<secret>")
def orange(secret: str) -> Any:
    """Orange SMS API: inbound SMS and delivery reports; the URL's secret is checked."""
    hook = _webhook_request()
    config = current_app.config
    for site in _candidates("orange", None):
        settings = db.session.get(SmsGatewaySettings, site.id) if site is not None else None
        expected = registry.resolved("orange", settings, config).get("webhook_secret") or ""
        if expected and hmac.compare_digest(secret.encode(), str(expected).encode()):
            gateway = _gateway("orange", site)
            if gateway is None:
                abort(404)
            _handle("orange", site, None, gateway.parse_webhook(hook))
            return {"ok": True}
    abort(404)
