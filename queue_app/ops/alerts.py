"""Alerts: what needs a person now, opened and closed by the scheduler from the facts.

:func:`evaluate` (every ``ALERTS_INTERVAL_SECONDS``, jobs/scheduler.py; tests
call it with an explicit ``now``) compares what should be alerted at each site
with the open :class:`Alert` rows: a new cause opens one (an audit-log entry,
an ``alerts_changed`` event to the site's consoles, one SMS to the site's
``alert_phone`` through the outbox), a cause that ended closes it (an audit
entry too). Causes:

- ``device_offline``: a device seen once, not seen for ``DEVICE_OFFLINE_SECONDS``,
  while the office is open (a kiosk switched off at night is no alert);
- ``printer_paper_out``, ``printer_paper_low``, ``printer_cover_open``,
  ``printer_offline`` (open hours only): a printing kiosk's printer status;
- ``sms_failing``: the site's last ``ALERT_SMS_FAILURES`` sending attempts failed;
- ``wait_over_target``: a service's longest-waiting ticket has waited longer
  than the service's target (its published waiting commitment).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import (
    Alert,
    Device,
    DeviceKind,
    MessageStatus,
    OutboundMessage,
    Service,
    Site,
    Ticket,
    TicketStatus,
    utcnow,
)
from ..queue.days import day_intervals, has_hours, is_closure_day, local_now, service_day
from ..realtime import events
from ..realtime.publish import iso
from .devices import is_online, last_seen
from .printer_health import printer_state

log = logging.getLogger(__name__)

ALERTS_CHANGED = "alerts_changed"
PRINTER_KINDS = {
    "paper_out": "printer_paper_out",
    "paper_low": "printer_paper_low",
    "cover_open": "printer_cover_open",
    "offline": "printer_offline",
}
# Causes that only count while the office is open (a device switched off at night).
OPEN_HOURS_ONLY = {"device_offline", "printer_offline"}


@dataclass(frozen=True)
class Cause:
    kind: str
    subject: str
    label: str
    device_id: int | None = None


def is_open(site: Site, now: datetime) -> bool:
    """Whether the office is open now: within one of today's intervals (no hours: every day)."""
    today = service_day(site, now)
    if is_closure_day(site, today):
        return False
    if not has_hours(site):
        return True
    moment = local_now(site, now).time()
    return any(start <= moment < end for start, end in day_intervals(site, today))


def device_causes(
    devices: list[Device], now: datetime, config: Mapping[str, Any], *, open_now: bool
) -> list[Cause]:
    """Devices gone quiet and printers that need a hand."""
    causes = []
    for device in devices:
        if device.revoked_at is not None:
            continue
        subject = f"device:{device.id}"
        seen_at = last_seen(device, now)
        if open_now and seen_at is not None and not is_online(seen_at, now, config):
            causes.append(Cause("device_offline", subject, device.name, device.id))
        if device.kind == DeviceKind.KIOSK and (device.printer or device.print_agent_id):
            kind = PRINTER_KINDS.get(printer_state(device.printer_status))
            if kind is not None and (open_now or kind not in OPEN_HOURS_ONLY):
                causes.append(Cause(kind, subject, device.name, device.id))
    return causes


def sms_failing(session: Session, site: Site, now: datetime, config: Mapping[str, Any]) -> bool:
    """The site's last ``ALERT_SMS_FAILURES`` sending attempts (within the hour) all failed."""
    needed = int(config["ALERT_SMS_FAILURES"])
    rows = session.execute(
        select(OutboundMessage.last_error, OutboundMessage.status, OutboundMessage.attempts)
        .where(
            OutboundMessage.site_id == site.id,
            OutboundMessage.claimed_at >= now - timedelta(hours=1),
            OutboundMessage.attempts > 0,
        )
        .order_by(OutboundMessage.claimed_at.desc())
        .limit(needed)
    ).all()
    failed = 0
    for last_error, status, attempts in rows:
        if last_error is None or status not in (MessageStatus.QUEUED, MessageStatus.FAILED):
            break  # a message went out since
        failed += attempts
    return failed >= needed


def wait_causes(session: Session, site: Site, now: datetime) -> list[Cause]:
    """Services whose longest-waiting ticket of the day waited past the service's target."""
    rows = session.execute(
        select(Service, func.min(Ticket.queued_at))
        .join(Ticket, Ticket.service_id == Service.id)
        .where(
            Ticket.site_id == site.id,
            Ticket.service_day == service_day(site, now),
            Ticket.status == TicketStatus.WAITING,
        )
        .group_by(Service.id)
    ).all()
    causes = []
    for service, oldest in rows:
        target = timedelta(minutes=service.target_wait_minutes or 0)
        if service.target_wait_minutes and oldest is not None and now - oldest > target:
            name = (service.names or {}).get(site.default_language) or service.code
            causes.append(Cause("wait_over_target", f"service:{service.code}", name))
    return causes


def causes_at(
    session: Session, site: Site, now: datetime, config: Mapping[str, Any]
) -> list[Cause]:
    """Everything that should be alerted at a site now."""
    devices = list(session.scalars(select(Device).where(Device.site_id == site.id)))
    found = device_causes(devices, now, config, open_now=is_open(site, now))
    if sms_failing(session, site, now, config):
        found.append(Cause("sms_failing", "sms", "SMS"))
    found.extend(wait_causes(session, site, now))
    return found


def evaluate(
    session: Session, *, now: datetime | None = None, config: Mapping[str, Any] | None = None
) -> tuple[list[Alert], list[Alert]]:
    """Open the alerts of new causes and close those whose cause ended, at every site.

    Flushes and queues events and SMS; the caller commits. Returns (opened, closed).
    """
    from flask import current_app

    now = now or utcnow()
    config = config if config is not None else current_app.config
    opened: list[Alert] = []
    closed: list[Alert] = []
    for site in session.scalars(select(Site).order_by(Site.id)):
        site_opened, site_closed = evaluate_site(session, site, now=now, config=config)
        opened += site_opened
        closed += site_closed
    return opened, closed


def evaluate_site(
    session: Session, site: Site, *, now: datetime, config: Mapping[str, Any]
) -> tuple[list[Alert], list[Alert]]:
    """:func:`evaluate` for one site."""
    from ..quality import audit

    wanted = {(cause.kind, cause.subject): cause for cause in causes_at(session, site, now, config)}
    current = {(a.kind, a.subject): a for a in open_alerts(session, site)}
    opened, closed = [], []
    for key, alert in current.items():
        if key not in wanted:
            alert.closed_at = now
            closed.append(alert)
    for key, cause in wanted.items():
        if key in current:
            continue
        alert = Alert(
            site_id=site.id,
            kind=cause.kind,
            subject=cause.subject,
            device_id=cause.device_id,
            label=cause.label[:200],
            opened_at=now,
        )
        session.add(alert)
        opened.append(alert)
    if not opened and not closed:
        return opened, closed
    session.flush()
    for alert, action in [(a, "open") for a in opened] + [(a, "close") for a in closed]:
        audit.record(
            session,
            object_type="alert",
            object_id=str(alert.id),
            label=alert.label,
            site_id=site.id,
            changes={"kind": alert.kind},
            action=action,
        )
        log.info("alert %s %s at %s (%s)", alert.kind, action, site.slug, alert.subject)
    for alert in opened:
        _notify(session, site, alert, now, config)
    events.queue(
        session,
        ALERTS_CHANGED,
        events.agents_room(site.slug),
        {"site": site.slug, "alerts": [alert_json(a) for a in open_alerts(session, site)]},
    )
    return opened, closed


def open_alerts(session: Session, site: Site) -> list[Alert]:
    """The site's open alerts, oldest first."""
    return list(
        session.scalars(
            select(Alert)
            .where(Alert.site_id == site.id, Alert.closed_at.is_(None))
            .order_by(Alert.opened_at, Alert.id)
        )
    )


def alert_message(alert: Alert) -> str:
    """What the alert says, in the current language (no personal data)."""
    name = alert.label
    texts = {
        "device_offline": _("%(device)s is not answering.", device=name),
        "printer_paper_out": _("The printer of %(device)s is out of paper.", device=name),
        "printer_paper_low": _("The printer of %(device)s is running out of paper.", device=name),
        "printer_cover_open": _("The printer cover of %(device)s is open.", device=name),
        "printer_offline": _("The printer of %(device)s does not answer.", device=name),
        "sms_failing": _("Text messages are not going out (SMS gateway failing)."),
        "wait_over_target": _("Waiting time for %(service)s is over its target.", service=name),
    }
    return texts.get(alert.kind, alert.kind)


def alert_json(alert: Alert) -> dict[str, Any]:
    """An alert as the API and the consoles read it."""
    return {
        "id": alert.id,
        "kind": alert.kind,
        "device": alert.device_id,
        "since": iso(alert.opened_at),
        "message": alert_message(alert),
    }


def _notify(
    session: Session, site: Site, alert: Alert, now: datetime, config: Mapping[str, Any]
) -> None:
    """One SMS per alert to the site's alert phone (the outbox's key makes it once)."""
    if not site.alert_phone:
        return
    from ..sms.outbox import enqueue
    from ..sms.texts import fit, to_gsm

    with force_locale(site.default_language):
        text = f"Guichet {site.name} - {alert_message(alert)}"
    body = fit(text) or to_gsm(" ".join(text.split()))[:160]
    try:
        enqueue(
            session,
            site,
            site.alert_phone,
            body,
            kind="alert",
            key=f"alert:{alert.id}",
            quiet_hours=False,
            now=now,
            config=config,
        )
    except Exception:
        log.warning("alert %s: SMS not queued", alert.id, exc_info=True)
        return
    alert.notified_at = now


def run() -> None:
    """Scheduler job: evaluate every site's alerts and commit."""
    from ..extensions import db

    evaluate(db.session)
    db.session.commit()
