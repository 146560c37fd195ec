"""The durable SMS outbox: one row per message, delivered once by the scheduler.

``enqueue`` adds a row inside the caller's transaction (so a message exists
exactly when what it announces was committed). ``deliver_due`` (the job):

1. reconciles rows left in ``sending`` by a crash (claimed, handed to the
   provider or not, never marked): the provider is asked whether it has the
   message (Twilio: the same text to the same number since the claim; Android:
   the message id we gave it; console: its log); found → ``sent``, else queued
   again. Orange cannot be asked, but drops a resend with the same
   clientCorrelator, as the Android gateway drops one with the same id;
2. claims due rows (``SKIP LOCKED`` on PostgreSQL) and commits the claim, so
   the slow provider call runs outside any transaction;
3. sends each and records the provider id and status, or schedules a retry
   with exponential backoff (permanent errors fail at once).

Sending hours (SMS_SENDING_HOURS, site-local) hold reminders and notices until
the morning; replies, booking confirmations and turn-near notices go at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import (
    MessageStatus,
    OutboundMessage,
    Site,
    SmsConversation,
    utcnow,
)
from ..queue import errors
from ..queue.days import local_now, parse_hhmm, zone
from ..queue.phones import mask_phone
from . import registry
from .gateway import GatewayError, Outgoing, SendResult, SmsGateway, StatusUpdate
from .texts import fits_one_segment

log = logging.getLogger(__name__)

WHATSAPP_WINDOW = timedelta(hours=24)
FINAL = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.FAILED)


def enqueue(
    session: Session,
    site: Site,
    phone: str,
    body: str,
    *,
    kind: str,
    key: str,
    channel: str = "sms",
    gateway: str | None = None,
    quiet_hours: bool = True,
    expires_at: datetime | None = None,
    appointment_id: int | None = None,
    ticket_id: int | None = None,
    now: datetime | None = None,
    config: Mapping[str, Any] | None = None,
) -> OutboundMessage:
    """Queue one SMS to ``phone`` (E.164) for after commit; the same ``key`` twice is one SMS.

    ``body`` must fit one SMS segment (160 GSM-7 or 70 UCS-2 characters):
    InvalidInput otherwise, since Senegal accepts no multi-part SMS. ``kind``
    names the message for statistics ("reminder", "complaint_answer"…);
    ``quiet_hours`` holds it until the site's sending hours. Flushes, never commits.
    """
    config = config if config is not None else current_app.config
    now = now or utcnow()
    existing = session.scalar(select(OutboundMessage).where(OutboundMessage.idempotency_key == key))
    if existing is not None:
        return existing
    if not fits_one_segment(body):
        raise errors.InvalidInput(field="body", reason="longer than one SMS segment")
    if channel == "whatsapp":
        gateway = "twilio"
    message = OutboundMessage(
        site_id=site.id,
        idempotency_key=key[:120],
        kind=kind,
        channel=channel,
        gateway=gateway or registry.gateway_name(session, site, config),
        to_phone=phone,
        body=body,
        status=MessageStatus.QUEUED,
        attempts=0,
        next_attempt_at=now,
        expires_at=expires_at,
        quiet_hours=quiet_hours,
        appointment_id=appointment_id,
        ticket_id=ticket_id,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:
        # The same key enqueued at the same moment by another transaction.
        existing = session.scalar(
            select(OutboundMessage).where(OutboundMessage.idempotency_key == key)
        )
        if existing is None:
            raise
        return existing
    log.debug("SMS %s queued for %s (%s)", kind, mask_phone(phone), message.gateway)
    return message


# --- sending hours ---------------------------------------------------------------


def next_sending_time(site: Site, now: datetime, config: Mapping[str, Any]) -> datetime:
    """``now`` when inside the site's sending hours, else when they next open."""
    opens, closes = (parse_hhmm(str(v)) for v in config["SMS_SENDING_HOURS"])
    local = local_now(site, now)
    tz = zone(site.timezone)
    start = datetime.combine(local.date(), opens, tzinfo=tz)
    end = datetime.combine(local.date(), closes, tzinfo=tz)
    if start <= local < end:
        return now
    if local < start:
        return start.astimezone(now.tzinfo)
    return datetime.combine(local.date() + timedelta(days=1), opens, tzinfo=tz).astimezone(
        now.tzinfo
    )


# --- delivery ----------------------------------------------------------------------


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    held: int = 0
    reconciled: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int, config: Mapping[str, Any]) -> timedelta:
    """Wait before attempt n+1: 30 s, 1, 2, 4… minutes, capped."""
    seconds = 30 * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, float(config["SMS_MAX_BACKOFF_SECONDS"])))


class _Gateways:
    """Gateways built once per delivery run, per (site, name)."""

    def __init__(self, session: Session, config: Mapping[str, Any]) -> None:
        self.session = session
        self.config = config
        self._built: dict[tuple[int, str], SmsGateway | GatewayError] = {}

    def get(self, message: OutboundMessage) -> SmsGateway:
        key = (message.site_id, message.gateway)
        if key not in self._built:
            try:
                self._built[key] = registry.gateway_for(
                    self.session, message.site_id, message.gateway, self.config
                )
            except GatewayError as exc:
                self._built[key] = exc
        built = self._built[key]
        if isinstance(built, GatewayError):
            raise built
        return built

    def close(self) -> None:
        for built in self._built.values():
            if not isinstance(built, GatewayError):
                built.close()


def _outgoing(session: Session, message: OutboundMessage, now: datetime) -> Outgoing:
    use_template = False
    if message.channel == "whatsapp":
        last = session.scalar(
            select(SmsConversation.last_inbound_at).where(
                SmsConversation.site_id == message.site_id,
                SmsConversation.phone == message.to_phone,
            )
        )
        use_template = last is None or now - last > WHATSAPP_WINDOW
    return Outgoing(
        key=message.idempotency_key,
        to=message.to_phone or "",
        body=message.body or "",
        channel=message.channel,
        use_template=use_template,
    )


def deliver_due(
    session: Session,
    *,
    config: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    limit: int | None = None,
) -> DeliveryReport:
    """Send what is due (the scheduler's job): reconcile, claim, send, record. Commits."""
    config = config if config is not None else current_app.config
    now = now or utcnow()
    report = DeliveryReport()
    gateways = _Gateways(session, config)
    try:
        _deliver(session, gateways, config, now, limit, report)
    finally:
        gateways.close()
    # Rows were changed by UPDATE statements: reload them on next access.
    session.expire_all()
    return report


def _deliver(
    session: Session,
    gateways: _Gateways,
    config: Mapping[str, Any],
    now: datetime,
    limit: int | None,
    report: DeliveryReport,
) -> None:
    _reconcile(session, gateways, config, now, report)
    claimed = _claim(session, config, now, limit or int(config["SMS_BATCH_SIZE"]), report)
    for message_id, claimed_at in claimed:
        message = session.get(OutboundMessage, message_id)
        if message is None:
            continue
        try:
            gateway = gateways.get(message)
            result = gateway.send(_outgoing(session, message, now))
        except GatewayError as exc:
            _failed_attempt(session, message, claimed_at, exc, config, now, report)
        else:
            _mark_sent(session, message.id, claimed_at, result, now)
            report.sent += 1
        session.commit()


def _reconcile(
    session: Session,
    gateways: _Gateways,
    config: Mapping[str, Any],
    now: datetime,
    report: DeliveryReport,
) -> None:
    lease = timedelta(seconds=float(config["SMS_SEND_LEASE_SECONDS"]))
    stale = session.scalars(
        select(OutboundMessage)
        .where(
            OutboundMessage.status == MessageStatus.SENDING,
            OutboundMessage.claimed_at < now - lease,
        )
        .order_by(OutboundMessage.id)
        .limit(int(config["SMS_BATCH_SIZE"]))
        .with_for_update(skip_locked=True)
    ).all()
    for message in stale:
        claimed_at = message.claimed_at or now
        try:
            found = gateways.get(message).lookup(_outgoing(session, message, now), claimed_at)
        except GatewayError as exc:
            # Cannot tell now: leave it in doubt, ask again on the next run.
            report.errors.append(str(exc))
            continue
        if found is not None:
            _mark_sent(session, message.id, claimed_at, found, now)
            log.info("SMS %s was accepted before a crash: marked sent", message.id)
        else:
            message.status = MessageStatus.QUEUED
            message.next_attempt_at = now
            log.info("SMS %s never reached the provider: queued again", message.id)
        report.reconciled += 1
    session.commit()


def _claim(
    session: Session,
    config: Mapping[str, Any],
    now: datetime,
    limit: int,
    report: DeliveryReport,
) -> list[tuple[int, datetime]]:
    rows = session.scalars(
        select(OutboundMessage)
        .where(
            OutboundMessage.status == MessageStatus.QUEUED,
            OutboundMessage.next_attempt_at <= now,
        )
        .order_by(OutboundMessage.next_attempt_at, OutboundMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = []
    sites: dict[int, Site] = {}
    for message in rows:
        if message.expires_at is not None and message.expires_at <= now:
            message.status = MessageStatus.FAILED
            message.last_error = "expired before it could be sent"
            report.failed += 1
            continue
        if message.quiet_hours:
            site = sites.get(message.site_id) or session.get(Site, message.site_id)
            if site is not None:
                sites[site.id] = site
                allowed = next_sending_time(site, now, config)
                if allowed > now:
                    message.next_attempt_at = allowed
                    report.held += 1
                    continue
        message.status = MessageStatus.SENDING
        message.claimed_at = now
        message.attempts += 1
        claimed.append((message.id, now))
    session.commit()
    return claimed


def _mark_sent(
    session: Session, message_id: int, claimed_at: datetime, result: SendResult, now: datetime
) -> None:
    status = result.status if result.status in FINAL else MessageStatus.SENT
    values: dict[str, Any] = {
        "status": status,
        "provider_message_id": result.provider_message_id[:64],
        "provider_status": (result.provider_status or "")[:32] or None,
        "sent_at": now,
        "last_error": None,
    }
    if status == MessageStatus.DELIVERED:
        values["delivered_at"] = now
    # Only the claim that sent it may record it (a stale worker finds nothing to update).
    session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.id == message_id,
            OutboundMessage.status == MessageStatus.SENDING,
            OutboundMessage.claimed_at == claimed_at,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def _failed_attempt(
    session: Session,
    message: OutboundMessage,
    claimed_at: datetime,
    error: GatewayError,
    config: Mapping[str, Any],
    now: datetime,
    report: DeliveryReport,
) -> None:
    give_up = error.permanent or message.attempts >= int(config["SMS_MAX_ATTEMPTS"])
    values: dict[str, Any] = {"last_error": str(error)[:300]}
    if give_up:
        values["status"] = MessageStatus.FAILED
        report.failed += 1
        log.warning("SMS %s to %s failed: %s", message.id, mask_phone(message.to_phone), error)
    else:
        values["status"] = MessageStatus.QUEUED
        values["next_attempt_at"] = now + backoff(message.attempts, config)
        report.retried += 1
        log.info("SMS %s: attempt %d failed (%s), retrying", message.id, message.attempts, error)
    session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.id == message.id,
            OutboundMessage.status == MessageStatus.SENDING,
            OutboundMessage.claimed_at == claimed_at,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def apply_status(session: Session, update_: StatusUpdate, *, now: datetime | None = None) -> bool:
    """Record a delivery report on its message; False when no message matches."""
    now = now or utcnow()
    stmt = select(OutboundMessage).where(OutboundMessage.gateway == update_.provider)
    if update_.provider_message_id:
        stmt = stmt.where(OutboundMessage.provider_message_id == update_.provider_message_id)
    elif update_.key:
        stmt = stmt.where(OutboundMessage.idempotency_key == update_.key)
    else:
        return False
    message = session.scalar(stmt.with_for_update())
    if message is None:
        return False
    # Reports can arrive out of order: never go back from delivered or failed.
    if message.status in (MessageStatus.DELIVERED, MessageStatus.FAILED):
        return True
    if update_.status in (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.FAILED):
        message.status = update_.status
    message.provider_status = (update_.provider_status or "")[:32] or message.provider_status
    if update_.status == MessageStatus.DELIVERED:
        message.delivered_at = now
    if update_.status == MessageStatus.FAILED and update_.error:
        message.last_error = str(update_.error)[:300]
    return True
