"""`GET /metrics`: the Prometheus text exposition, read from the database at scrape time.

Every figure is read from the tables when Prometheus asks, never kept in a
process's memory: under gunicorn any process answers the same numbers, with no
multiprocess directory to share, and a restart loses nothing.

The counters (``*_total``) and the wait histogram count the site's current
service day: they start again at the site's local midnight. Prometheus reads a
drop as a counter reset, so ``rate()`` and ``increase()`` stay right across it.

Labels are site slugs, service codes and device kinds: no personal data.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, request
from sqlalchemy import String, and_, bindparam, case, cast, func, literal, select, union_all
from sqlalchemy.orm import Session

from ..extensions import db
from ..infra.database import read_only
from ..models import (
    Alert,
    Device,
    MessageStatus,
    OutboundMessage,
    PrintJob,
    PrintJobStatus,
    Service,
    Site,
    Ticket,
    TicketStatus,
    utcnow,
)
from .tally import Tally

bp = Blueprint("metrics", __name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Waits at call, in seconds: from a minute to two hours.
WAIT_BUCKETS = (60.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0, 5400.0, 7200.0)

# Headers a reverse proxy adds: a request carrying one is not the machine asking itself.
FORWARDING_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")

PENDING_PRINTS = (PrintJobStatus.PENDING, PrintJobStatus.PRINTING)
PENDING_SMS = (MessageStatus.QUEUED, MessageStatus.SENDING)


# --- reading ----------------------------------------------------------------------------


class Family:
    """One metric family: its samples, rendered in the text format."""

    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.name, self.kind, self.help_text = name, kind, help_text
        self.samples: list[tuple[str, str, float]] = []

    def add(self, labels: dict[str, str], value: float, suffix: str = "") -> None:
        self.add_raw(_labels(labels), value, suffix)

    def add_raw(self, labels: str, value: float, suffix: str = "") -> None:
        """A sample whose labels are already written (``{site="x"}``)."""
        self.samples.append((self.name + suffix, labels, value))

    def render(self) -> str:
        lines = [f"# HELP {self.name} {self.help_text}", f"# TYPE {self.name} {self.kind}"]
        lines += [f"{name}{labels} {_number(value)}" for name, labels, value in self.samples]
        return "\n".join(lines)


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if value == float("inf"):
        return "+Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _day_starts(sites: Iterable[Any], now: datetime) -> dict[int, tuple[Any, datetime]]:
    """Each site's service day and the UTC instant it began."""
    starts = {}
    for site_id, _slug, timezone in sites:
        zone = ZoneInfo(timezone)
        day = now.astimezone(zone).date()
        starts[site_id] = (day, datetime.combine(day, time(0), zone).astimezone(UTC))
    return starts


TALLY_KEY = "queue_app.metrics_tally"

# Built once: a scrape only binds its parameters (two round trips besides the tally's).
# Built once, one round trip: a scrape only binds its parameter. Rows are
# (what, id, site id, text, text, count).
_NONE, _EMPTY = literal(0), literal("")
_SNAPSHOT = union_all(
    select(literal("site"), Site.id, Site.id, Site.slug, Site.timezone, literal(0)),
    select(literal("service"), Service.id, Service.site_id, Service.code, literal(""), literal(0)),
    select(
        literal("waiting"), Ticket.service_id, literal(0), literal(""), literal(""), func.count()
    )
    .where(Ticket.status == TicketStatus.WAITING)
    .group_by(Ticket.service_id),
    select(
        literal("devices"),
        Device.site_id,
        _NONE,
        cast(Device.kind, String),
        _EMPTY,
        func.sum(
            case(
                (
                    and_(
                        Device.last_seen_at >= bindparam("seen_since"),
                        Device.revoked_at.is_(None),
                    ),
                    1,
                ),
                else_=0,
            )
        ),
    ).group_by(Device.site_id, Device.kind),
    select(literal("prints"), PrintJob.site_id, _NONE, _EMPTY, _EMPTY, func.count())
    .where(PrintJob.status.in_(PENDING_PRINTS))
    .group_by(PrintJob.site_id),
    select(literal("sms"), _NONE, _NONE, _EMPTY, _EMPTY, func.count())
    .select_from(OutboundMessage)
    .where(OutboundMessage.status.in_(PENDING_SMS)),
)


def _tally(app: Any) -> Tally:
    tally = app.extensions.get(TALLY_KEY)
    if tally is None:
        tally = app.extensions[TALLY_KEY] = Tally(WAIT_BUCKETS)
    return tally


def collect(session: Session, config: Any, now: datetime | None = None) -> list[Family]:
    """Read every series from the database: one query, and the day's new events (tally.py)."""
    now = now or utcnow()
    connection = session.connection()
    offline = float(config.get("DEVICE_OFFLINE_SECONDS", 300))
    sites: list[tuple[int, str, str]] = []
    service_site: dict[int, int] = {}
    codes: dict[int, str] = {}
    gauges: dict[str, list[tuple[int, str, int]]] = {
        "waiting": [],
        "devices": [],
        "prints": [],
        "sms": [],
    }
    rows = connection.execute(_SNAPSHOT, {"seen_since": now - timedelta(seconds=offline)})
    for tag, key, site_id, first, second, count in rows:
        if tag == "site":
            sites.append((key, first, second))
        elif tag == "service":
            service_site[key], codes[key] = site_id, first
        else:
            gauges[tag].append((key, first, int(count or 0)))
    slugs = {site_id: slug for site_id, slug, _ in sites}
    starts = _day_starts(sites, now)
    tally = _tally(current_app).read(session, starts)

    issued = Family(
        "guichet_tickets_issued_total",
        "counter",
        "Tickets issued since the site's service day began (restarts at local midnight).",
    )
    called = Family(
        "guichet_tickets_called_total",
        "counter",
        "Calls (not recalls) since the site's service day began.",
    )
    waiting = Family("guichet_waiting_tickets", "gauge", "Tickets waiting now.")
    waits = Family(
        "guichet_wait_seconds",
        "histogram",
        "Waits at call (from issue, or transfer, to the call) this service day.",
    )
    devices = Family(
        "guichet_devices_online",
        "gauge",
        "Devices seen within DEVICE_OFFLINE_SECONDS (revoked ones not counted).",
    )
    prints = Family(
        "guichet_print_jobs_pending",
        "gauge",
        "Print jobs not printed yet (pending or being printed).",
    )
    sms = Family("guichet_sms_outbox_pending", "gauge", "SMS waiting in the outbox to be sent.")
    alerts = Family("guichet_alerts_open", "gauge", "Open alerts.")

    # Every service has its series, zero included: a service with no ticket yet
    # still draws a line (and absent() alerts mean something).
    waiting_now = {service_id: count for service_id, _, count in gauges["waiting"]}
    labelled = sorted(
        (slugs.get(site_id, ""), codes[service_id], service_id)
        for service_id, site_id in service_site.items()
    )
    for slug, code, service_id in labelled:
        labels = _labels({"site": slug, "service": code})
        day = tally.get(service_id)
        issued.add_raw(labels, day.issued if day else 0)
        called.add_raw(labels, day.called if day else 0)
        waiting.add_raw(labels, waiting_now.get(service_id, 0))
        cumulative = 0
        inner = labels[1:-1]
        for index, bound in enumerate(WAIT_BUCKETS):
            cumulative += day.buckets[index] if day else 0
            waits.add_raw(f'{{{inner},le="{_number(bound)}"}}', cumulative, "_bucket")
        waits.add_raw(f'{{{inner},le="+Inf"}}', day.wait_count if day else 0, "_bucket")
        waits.add_raw(labels, round(day.wait_sum, 3) if day else 0, "_sum")
        waits.add_raw(labels, day.wait_count if day else 0, "_count")

    for site_id, kind, count in sorted(
        gauges["devices"], key=lambda g: (slugs.get(g[0], ""), g[1])
    ):
        devices.add({"site": slugs.get(site_id, ""), "kind": kind}, count)
    pending = {site_id: count for site_id, _, count in gauges["prints"]}
    for site_id, slug in sorted(slugs.items(), key=lambda item: item[1]):
        prints.add({"site": slug}, pending.get(site_id, 0))
    sms.add({}, sum(count for _, _, count in gauges["sms"]))
    for site_id, kind, count in open_alerts(session):
        alerts.add({"site": slugs.get(site_id, ""), "kind": str(kind)}, count)

    return [issued, called, waiting, waits, devices, prints, sms, alerts]


def open_alerts(session: Session) -> list[tuple[int, str, int]]:
    """(site id, kind, how many) of the open alerts (ops/alerts.py opens and closes them)."""
    rows = session.execute(
        select(Alert.site_id, Alert.kind, func.count())
        .where(Alert.closed_at.is_(None))
        .group_by(Alert.site_id, Alert.kind)
    )
    return [(site_id, str(kind), count) for site_id, kind, count in rows]


def render(families: list[Family]) -> str:
    """The text exposition format (version 0.0.4)."""
    return "\n".join(family.render() for family in families) + "\n"


# --- serving ----------------------------------------------------------------------------


def is_direct_loopback() -> bool:
    """The machine asking itself: a loopback peer, and no proxy in between."""
    environ = request.environ
    # ProxyFix (TRUSTED_PROXIES) rewrites REMOTE_ADDR: the peer is the original one.
    original = environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR")
    peer = original or environ.get("REMOTE_ADDR") or ""
    try:
        loopback = ipaddress.ip_address(peer.split("%")[0]).is_loopback
    except ValueError:
        return False
    return loopback and not any(request.headers.get(name) for name in FORWARDING_HEADERS)


def has_metrics_token() -> bool:
    """``Authorization: Bearer <METRICS_TOKEN>``, when a METRICS_TOKEN is configured."""
    expected = str(current_app.config.get("METRICS_TOKEN") or "")
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if not expected or scheme.lower() != "bearer" or not given.strip():
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus exposition: to the machine itself, or with the metrics token."""
    if not (is_direct_loopback() or has_metrics_token()):
        status = 401 if not request.headers.get("Authorization") else 403
        response = Response("metrics: loopback clients or a Bearer METRICS_TOKEN only\n", status)
        response.headers["Content-Type"] = "text/plain; charset=utf-8"
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    # A GET reads only (no writer lock on SQLite); the block says so for any caller.
    with read_only():
        try:
            body = render(collect(db.session, current_app.config))
        finally:
            db.session.rollback()
    response = Response(body, 200)
    response.headers["Content-Type"] = CONTENT_TYPE
    response.headers["Cache-Control"] = "no-store"
    return response
