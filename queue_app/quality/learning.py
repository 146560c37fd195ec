"""Learning service times per service and hour of day from the event log.

A periodic job: for each site, the services' recent service times (start, or
last call, to finish) are read from ``ticket_events`` and their means stored in
``service_time_profiles`` per site-local hour, and over all hours. Waiting
estimates read them through queue/service_times.py's cache.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from itertools import groupby

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..models import EventKind, Service, ServiceTimeProfile, Site, TicketEvent, utcnow
from ..queue.days import zone
from ..queue.estimates import MAX_SERVICE_SECONDS, MIN_SERVICE_SECONDS
from ..queue.service_times import ALL_HOURS, clear_cache

log = logging.getLogger(__name__)

MIN_SAMPLES = 5
_KINDS = (
    EventKind.CALLED,
    EventKind.RECALLED,
    EventKind.STARTED,
    EventKind.FINISHED,
    EventKind.TRANSFERRED,
)


def service_durations(
    session: Session, site: Site, since: datetime, until: datetime
) -> dict[int, list[tuple[int, float]]]:
    """(local hour it began, seconds) of each service finished in the window, per service id."""
    tz = zone(site.timezone)
    rows = session.execute(
        select(TicketEvent.ticket_id, TicketEvent.kind, TicketEvent.at, TicketEvent.service_id)
        .where(
            TicketEvent.site_id == site.id,
            TicketEvent.at >= since,
            TicketEvent.at < until,
            TicketEvent.kind.in_(_KINDS),
        )
        .order_by(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.id)
        .execution_options(yield_per=5000)
    )
    found: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for _, events in groupby(rows, key=lambda row: row[0]):
        began: datetime | None = None
        started = False
        for _, kind, at, service_id in events:
            if kind == EventKind.STARTED:
                began, started = at, True
            elif kind in (EventKind.CALLED, EventKind.RECALLED):
                if not started:
                    began = at
            elif kind == EventKind.TRANSFERRED:
                began, started = None, False
            elif kind == EventKind.FINISHED and began is not None:
                seconds = (at - began).total_seconds()
                if MIN_SERVICE_SECONDS <= seconds <= MAX_SERVICE_SECONDS:
                    found[service_id].append((began.astimezone(tz).hour, seconds))
                began, started = None, False
    return found


def learn_site(session: Session, site: Site, *, days: int, now: datetime | None = None) -> int:
    """Replace the site's service-time profiles by those of the last ``days``; returns rows."""
    now = now or utcnow()
    durations = service_durations(session, site, now - timedelta(days=days), now)
    service_ids = session.scalars(select(Service.id).where(Service.site_id == site.id)).all()
    if service_ids:
        session.execute(
            delete(ServiceTimeProfile).where(ServiceTimeProfile.service_id.in_(service_ids))
        )
    written = 0
    for service_id, samples in durations.items():
        by_hour: dict[int, list[float]] = defaultdict(list)
        for hour, seconds in samples:
            by_hour[hour].append(seconds)
        by_hour[ALL_HOURS] = [seconds for _, seconds in samples]
        for hour, values in by_hour.items():
            if len(values) < MIN_SAMPLES:
                continue
            session.add(
                ServiceTimeProfile(
                    service_id=service_id,
                    hour=hour,
                    mean_seconds=max(int(round(sum(values) / len(values))), 1),
                    samples=len(values),
                    updated_at=now,
                )
            )
            written += 1
    session.flush()
    clear_cache()
    return written
