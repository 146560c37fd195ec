"""Which gateway a site uses: its own (PUT /sites/<slug>/sms-gateway), else the defaults."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Site, SmsGatewaySettings
from .gateway import GatewayError, SmsGateway

GATEWAYS = ("console", "twilio", "android", "orange")

# Per gateway: the public options and the secrets a site may set, and the
# app setting each falls back to.
OPTIONS: dict[str, dict[str, str]] = {
    "console": {},
    "twilio": {
        "sender": "TWILIO_FROM",
        "whatsapp_sender": "TWILIO_WHATSAPP_FROM",
        "whatsapp_content_sid": "TWILIO_WHATSAPP_CONTENT_SID",
        "account_sid": "TWILIO_ACCOUNT_SID",
        "api_url": "TWILIO_API_URL",
    },
    "android": {"base_url": "ANDROID_SMS_URL", "login": "ANDROID_SMS_LOGIN"},
    "orange": {
        "base_url": "ORANGE_SMS_URL",
        "client_id": "ORANGE_CLIENT_ID",
        "sender": "ORANGE_SENDER",
        "sender_name": "ORANGE_SENDER_NAME",
    },
}
SECRETS: dict[str, dict[str, str]] = {
    "console": {},
    "twilio": {"auth_token": "TWILIO_AUTH_TOKEN"},
    "android": {"password": "ANDROID_SMS_PASSWORD", "signing_key": "ANDROID_SMS_SIGNING_KEY"},
    "orange": {"client_secret": "ORANGE_CLIENT_SECRET", "webhook_secret": "ORANGE_WEBHOOK_SECRET"},
}


def site_settings(session: Session, site_id: int) -> SmsGatewaySettings | None:
    return session.get(SmsGatewaySettings, site_id)


def gateway_name(session: Session, site: Site, config: Mapping[str, Any]) -> str:
    """The gateway a site sends through."""
    settings = site_settings(session, site.id)
    return settings.gateway if settings is not None else str(config["SMS_GATEWAY"])


def resolved(
    name: str, settings: SmsGatewaySettings | None, config: Mapping[str, Any]
) -> dict[str, Any]:
    """Options and secrets of a gateway: the site's own when set, else the app settings."""
    own: dict[str, Any] = {}
    if settings is not None and settings.gateway == name:
        own = {**(settings.options or {}), **(settings.secrets or {})}
    values: dict[str, Any] = {}
    for field, setting in {**OPTIONS.get(name, {}), **SECRETS.get(name, {})}.items():
        value = own.get(field)
        values[field] = value if value not in (None, "") else config.get(setting)
    return values


def build(name: str, values: Mapping[str, Any], config: Mapping[str, Any]) -> SmsGateway:
    """A gateway object from resolved values; GatewayError when it lacks a credential."""
    timeout = float(config.get("SMS_HTTP_TIMEOUT_SECONDS", 10))
    if name == "console":
        from .console import ConsoleGateway

        return ConsoleGateway(Path(str(config["SMS_CONSOLE_PATH"])))
    if name == "twilio":
        from .twilio import TwilioGateway

        _need(values, "account_sid", "auth_token")
        return TwilioGateway(
            account_sid=values["account_sid"],
            auth_token=values["auth_token"],
            sender=values.get("sender"),
            api_url=values.get("api_url") or "https://api.twilio.com",
            whatsapp_sender=values.get("whatsapp_sender"),
            whatsapp_content_sid=values.get("whatsapp_content_sid"),
            status_callback=f"{config['PUBLIC_URL']}/sms/twilio",
            timeout=timeout,
        )
    if name == "android":
        from .android import AndroidGateway

        _need(values, "password")
        return AndroidGateway(
            base_url=values.get("base_url") or "https://api.sms-gate.app/3rdparty/v1",
            login=values.get("login"),
            password=values["password"],
            signing_key=values.get("signing_key"),
            tolerance_seconds=float(config.get("ANDROID_SMS_WEBHOOK_TOLERANCE_SECONDS", 300)),
            timeout=timeout,
        )
    if name == "orange":
        from .orange import OrangeGateway

        _need(values, "client_id", "client_secret", "sender")
        return OrangeGateway(
            base_url=values.get("base_url") or "https://api.orange.com",
            client_id=values["client_id"],
            client_secret=values["client_secret"],
            sender=values["sender"],
            sender_name=values.get("sender_name"),
            webhook_secret=values.get("webhook_secret"),
            timeout=timeout,
        )
    raise GatewayError(f"unknown SMS gateway {name!r}", permanent=True)


def _need(values: Mapping[str, Any], *fields: str) -> None:
    missing = [field for field in fields if not values.get(field)]
    if missing:
        raise GatewayError(f"SMS gateway not configured: {', '.join(missing)}", permanent=True)


def gateway_for(session: Session, site_id: int, name: str, config: Mapping[str, Any]) -> SmsGateway:
    """The gateway ``name`` as configured for a site."""
    return build(name, resolved(name, site_settings(session, site_id), config), config)


def sites_using(session: Session, name: str) -> list[SmsGatewaySettings]:
    """Sites with their own settings for a gateway (to find which site a webhook is for)."""
    return list(
        session.scalars(select(SmsGatewaySettings).where(SmsGatewaySettings.gateway == name))
    )


def public_settings(name: str, settings: SmsGatewaySettings | None) -> dict[str, Any]:
    """What the API shows of a site's gateway: options, and which secrets are set (not them)."""
    return {
        "gateway": name,
        "own": settings is not None,
        "options": dict(settings.options or {}) if settings is not None else {},
        "secrets_set": sorted(k for k, v in (settings.secrets or {}).items() if v)
        if settings is not None
        else [],
    }


def set_site_gateway(
    session: Session,
    site: Site,
    name: str | None,
    options: Mapping[str, Any],
    secrets: Mapping[str, Any],
) -> SmsGatewaySettings | None:
    """Give a site its own gateway (or none: back to the default). Unknown fields are refused."""
    from ..models import utcnow
    from ..queue import errors

    current = site_settings(session, site.id)
    if name is None:
        if current is not None:
            session.delete(current)
        return None
    if name not in GATEWAYS:
        raise errors.InvalidInput(field="gateway", expected=list(GATEWAYS))
    unknown = (set(options) - set(OPTIONS[name])) | (set(secrets) - set(SECRETS[name]))
    if unknown:
        raise errors.InvalidInput(field="options", unknown=sorted(unknown))
    if current is None:
        current = SmsGatewaySettings(site_id=site.id, gateway=name, options={}, secrets={})
        session.add(current)
    kept_secrets = dict(current.secrets or {}) if current.gateway == name else {}
    current.gateway = name
    current.options = {k: str(v) for k, v in options.items() if v not in (None, "")}
    # A secret left out keeps its stored value (the API never shows it back).
    kept_secrets.update({k: str(v) for k, v in secrets.items() if v is not None})
    current.secrets = {k: v for k, v in kept_secrets.items() if v}
    current.updated_at = utcnow()
    session.flush()
    return current
