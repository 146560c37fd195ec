"""Rolling closed days up into ``stats_days``, so long ranges read one row per day.

A day is rolled up once it is over for good: its closing time plus the grace
has passed and none of its tickets is still waiting, called or being served
(a terminal ticket never changes again, so its summary never goes stale).
The summaries are computed from the event log only, as the live statistics
are: a stored day and a replayed day give the same figures.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..models import EventKind, Site, StatsDay, Ticket, TicketEvent, TicketStatus, utcnow
from ..queue.days import closing_time, service_day, zone
from .periods import clear_cache, service_targets
from .replay import SUMMARY_VERSION, Summary, summarize

log = logging.getLogger(__name__)

# Days summarised per site and run: a year of history is caught up in a few runs.
MAX_DAYS_PER_RUN = 62
SPAN_DAYS = 31

_OPEN = (TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING)


def first_day(session: Session, site: Site) -> date | None:
    """The local day of the site's first ticket, or None."""
    first = session.scalar(
        select(func.min(TicketEvent.at)).where(
            TicketEvent.site_id == site.id, TicketEvent.kind == EventKind.ISSUED
        )
    )
    return first.astimezone(zone(site.timezone)).date() if first is not None else None


def is_final(session: Session, site: Site, day: date, now: datetime, grace: timedelta) -> bool:
    """Whether nothing can change a day's figures any more."""
    if now < closing_time(site, day) + grace:
        return False
    still_open = session.scalar(
        select(Ticket.id)
        .where(Ticket.site_id == site.id, Ticket.service_day == day, Ticket.status.in_(_OPEN))
        .limit(1)
    )
    return still_open is None


def roll_up(
    session: Session,
    site: Site,
    *,
    grace: timedelta,
    now: datetime | None = None,
    max_days: int = MAX_DAYS_PER_RUN,
) -> int:
    """Store the summaries of the site's final days not stored yet; returns how many. Flushes."""
    now = now or utcnow()
    start = first_day(session, site)
    if start is None:
        return 0
    yesterday = service_day(site, now) - timedelta(days=1)
    stored = set(
        session.scalars(
            select(StatsDay.day).where(
                StatsDay.site_id == site.id,
                StatsDay.day >= start,
                StatsDay.version == SUMMARY_VERSION,
            )
        )
    )
    todo: list[date] = []
    day = start
    while day <= yesterday and len(todo) < max_days:
        if day not in stored:
            if not is_final(session, site, day, now, grace):
                # Later days wait too: a day still open (a ticket left "serving") is
                # retried next run.
                day += timedelta(days=1)
                continue
            todo.append(day)
        day += timedelta(days=1)
    if not todo:
        return 0
    targets = service_targets(session, site)
    session.execute(delete(StatsDay).where(StatsDay.site_id == site.id, StatsDay.day.in_(todo)))
    for index in range(0, len(todo), SPAN_DAYS):
        chunk = todo[index : index + SPAN_DAYS]
        summaries = summarize(session, site, chunk[0], chunk[-1], targets)
        for day in chunk:
            session.add(
                StatsDay(
                    site_id=site.id,
                    day=day,
                    version=SUMMARY_VERSION,
                    data=summaries.get(day, Summary()).to_json(),
                    computed_at=now,
                )
            )
    session.flush()
    log.info("statistics: %d day(s) of %s rolled up", len(todo), site.slug)
    return len(todo)


def forget(session: Session, site: Site, days: list[date] | None = None) -> None:
    """Drop stored summaries (all of the site's, or some days): they are computed again."""
    statement = delete(StatsDay).where(StatsDay.site_id == site.id)
    if days is not None:
        statement = statement.where(StatsDay.day.in_(days))
    session.execute(statement)
    clear_cache()
