"""An inbound message, once verified: deduplicated, answered, replies queued."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import InboundMessage, Site, SmsGatewaySettings, utcnow
from ..queue import booking, errors
from ..queue.phones import mask_phone, normalize_phone
from . import dialogue, outbox
from .gateway import Inbound

log = logging.getLogger(__name__)


def site_for(
    session: Session, provider: str, to: str | None, config: Mapping[str, Any], hint: str | None
) -> Site | None:
    """The site an inbound message is for: named in the webhook URL, the number it was
    sent to, the default site setting, or the only site there is."""
    if hint:
        return session.scalar(select(Site).where(Site.slug == hint))
    if to:
        digits = "".join(ch for ch in to if ch.isdigit())
        for settings in session.scalars(
            select(SmsGatewaySettings).where(SmsGatewaySettings.gateway == provider)
        ):
            numbers = [str(v) for k, v in (settings.options or {}).items() if "sender" in k and v]
            if any("".join(ch for ch in n if ch.isdigit()) == digits for n in numbers):
                return session.get(Site, settings.site_id)
    default = config.get("SMS_DEFAULT_SITE")
    if default:
        return session.scalar(select(Site).where(Site.slug == default))
    sites = session.scalars(select(Site).limit(2)).all()
    return sites[0] if len(sites) == 1 else None


def receive(
    session: Session,
    site: Site,
    message: Inbound,
    *,
    config: Mapping[str, Any],
    now: datetime | None = None,
) -> list[str] | None:
    """Answer a citizen's message once: None when this provider message id was seen before.

    The unique (provider, provider message id) of ``inbound_messages`` drops a
    provider's retried webhook. Replies go through the outbox on the same
    channel and gateway. Flushes; the caller commits.
    """
    now = now or utcnow()
    try:
        phone = normalize_phone(message.sender, str(config["DEFAULT_PHONE_REGION"]))
    except errors.InvalidInput:
        log.info("inbound %s message from an unreadable number ignored", message.provider)
        return []
    row = InboundMessage(
        site_id=site.id,
        provider=message.provider,
        provider_message_id=message.message_id[:100],
        channel=message.channel,
        from_phone=phone,
        body=message.body[:1000],
        received_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        log.info("inbound %s %s already handled", message.provider, message.message_id)
        return None
    replies = dialogue.handle(
        session,
        site,
        phone,
        message.body,
        channel=message.channel,
        provider=message.provider,
        now=now,
        rules=booking.BookingRules.from_config(config),
        minutes=float(config["SMS_CONVERSATION_MINUTES"]),
    )
    for number, text in enumerate(replies):
        outbox.enqueue(
            session,
            site,
            phone,
            text,
            kind="reply",
            key=f"reply:{message.provider}:{message.message_id}:{number}",
            channel=message.channel,
            gateway=message.provider,
            quiet_hours=False,
            now=now,
            config=config,
        )
    log.info("inbound %s from %s answered", message.provider, mask_phone(phone))
    return replies
