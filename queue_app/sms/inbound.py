"""An inbound message, once verified: deduplicated, answered, replies queued."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import InboundMessage, Site, SmsGatewaySettings, utcnow
from ..queue import booking, errors
from ..queue.phones import mask_phone, normalize_phone, region_of
from . import dialogue, offices, outbox, texts
from .gateway import Inbound

log = logging.getLogger(__name__)


def _digits(text: str | None) -> str:
    return "".join(ch for ch in (text or "") if ch.isdigit())


def sites_for(
    session: Session,
    provider: str,
    to: str | None,
    config: Mapping[str, Any],
    hint: str | None,
    verified: Site | None = None,
) -> list[Site]:
    """The offices an inbound message may be for, most often one.

    Named in the webhook URL; else the offices whose own gateway has the number it was
    sent to; else those sharing the credentials that signed it (one gateway phone set
    up for several offices); else the default site setting; else every office that uses
    the app's own gateway (a national short code). Several: the message says which
    (sms/offices.py).
    """
    if hint:
        site = session.scalar(select(Site).where(Site.slug == hint))
        return [site] if site is not None else []
    own = list(
        session.scalars(select(SmsGatewaySettings).where(SmsGatewaySettings.gateway == provider))
    )
    if to and _digits(to):
        matching = [
            settings.site_id
            for settings in own
            if any(
                _digits(str(v)) == _digits(to)
                for k, v in (settings.options or {}).items()
                if "sender" in k and v
            )
        ]
        if matching:
            return _sites(session, matching)
    if verified is not None:
        mine = next((s for s in own if s.site_id == verified.id), None)
        if mine is not None:
            same = [
                s.site_id for s in own if s.secrets == mine.secrets and s.options == mine.options
            ]
            return _sites(session, same)
        return [verified]
    default = config.get("SMS_DEFAULT_SITE")
    if default:
        site = session.scalar(select(Site).where(Site.slug == default))
        return [site] if site is not None else []
    taken = {settings.site_id for settings in session.scalars(select(SmsGatewaySettings))}
    every = session.scalars(select(Site).order_by(Site.id))
    return [site for site in every if site.id not in taken]


def _sites(session: Session, ids: list[int]) -> list[Site]:
    return list(session.scalars(select(Site).where(Site.id.in_(ids)).order_by(Site.id)))


def site_for(
    session: Session, provider: str, to: str | None, config: Mapping[str, Any], hint: str | None
) -> Site | None:
    """The one office an inbound message is for (None: none, or several share its number)."""
    sites = sites_for(session, provider, to, config, hint)
    return sites[0] if len(sites) == 1 else None


def receive_for(
    session: Session,
    sites: list[Site],
    message: Inbound,
    *,
    config: Mapping[str, Any],
    now: datetime | None = None,
) -> list[str] | None:
    """Answer a message on a number that ``sites`` share: for the office it names or the
    citizen chose, or with the list of offices. None when seen before; flushes."""
    if len(sites) == 1:
        return receive(session, sites[0], message, config=config, now=now)
    now = now or utcnow()
    seen = select(InboundMessage.id).where(
        InboundMessage.provider == message.provider,
        InboundMessage.provider_message_id == message.message_id[:100],
    )
    if session.scalar(seen) is not None:
        return None  # a provider's retry: answered the first time
    phone = _sender(message, sites[0], config)
    if phone is None:
        return _unreadable_sender(session, sites[0], message, config=config, now=now)
    words = dialogue.plain(message.body).split()
    language = _language_of(words, sites[0])
    found = offices.route(
        session, sites, phone, dialogue.plain(message.body), language=language, now=now,
        minutes=float(config["SMS_CONVERSATION_MINUTES"]),
    )  # fmt: skip
    if isinstance(found, offices.Routed):
        routed = Inbound(
            message.provider, message.message_id, message.sender, found.body,
            channel=message.channel, to=message.to,
        )  # fmt: skip
        return receive(session, found.site, routed, config=config, now=now, original=message.body)
    if not _record(session, found.site, message, phone, now):
        return None
    _reply(session, found.site, phone, message, [found.reply], config=config, now=now)
    return [found.reply]


def _language_of(words: list[str], site: Site) -> str | None:
    for word in words[:3]:
        _action, matched = dialogue.keyword(word)
        if matched is not None:
            return dialogue.language_of_keyword(matched)
    return None


def _sender(message: Inbound, site: Site, config: Mapping[str, Any]) -> str | None:
    region = region_of(site.timezone, str(config["DEFAULT_PHONE_REGION"]))
    try:
        return normalize_phone(message.sender, region)
    except errors.InvalidInput:
        return None


def _record(session: Session, site: Site, message: Inbound, phone: str | None, now: datetime,
            body: str | None = None) -> bool:  # fmt: skip
    """Keep the message once; False when this provider message id was seen before."""
    row = InboundMessage(
        site_id=site.id,
        provider=message.provider,
        provider_message_id=message.message_id[:100],
        channel=message.channel,
        from_phone=phone,
        body=(body if body is not None else message.body)[:1000],
        received_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        log.info("inbound %s %s already handled", message.provider, message.message_id)
        return False
    return True


def _reply(
    session: Session,
    site: Site,
    phone: str,
    message: Inbound,
    replies: list[str],
    *,
    config: Mapping[str, Any],
    now: datetime,
) -> None:
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


def _unreadable_sender(
    session: Session, site: Site, message: Inbound, *, config: Mapping[str, Any], now: datetime
) -> list[str] | None:
    """A sender number we cannot read: answered all the same (the gateway can reach it),
    saying why SMS booking cannot go on and where to book instead."""
    raw = "".join(ch for ch in message.sender if ch.isdigit() or ch == "+")[:20]
    if not _digits(raw):
        log.info("inbound %s message without a sender number ignored", message.provider)
        return []
    if not _record(session, site, message, None, now):
        return None
    url = f"{config['PUBLIC_URL']}/book/{site.slug}"
    with force_locale(site.default_language):
        text = texts.fit(
            _("We could not read your phone number: we cannot book by SMS for it. "
              "Book on %(url)s or at the office.", url=url)
        ) or texts.render(
            lambda v: _("We could not read your phone number: we cannot book by SMS for it. "
                        "Book at the office."),
            {},
        )  # fmt: skip
    _reply(session, site, raw, message, [text], config=config, now=now)
    log.info("inbound %s from an unreadable number %s answered", message.provider,
             mask_phone(raw))  # fmt: skip
    return [text]


def receive(
    session: Session,
    site: Site,
    message: Inbound,
    *,
    config: Mapping[str, Any],
    now: datetime | None = None,
    original: str | None = None,
) -> list[str] | None:
    """Answer a citizen's message once: None when this provider message id was seen before.

    The unique (provider, provider message id) of ``inbound_messages`` drops a
    provider's retried webhook. Replies go through the outbox on the same
    channel and gateway. ``original``: the message as sent, when ``message`` is
    it without the office's name. Flushes; the caller commits.
    """
    now = now or utcnow()
    phone = _sender(message, site, config)
    if phone is None:
        return _unreadable_sender(session, site, message, config=config, now=now)
    if not _record(session, site, message, phone, now, body=original):
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
    _reply(session, site, phone, message, replies, config=config, now=now)
    log.info("inbound %s from %s answered", message.provider, mask_phone(phone))
    return replies
