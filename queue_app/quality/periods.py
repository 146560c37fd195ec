"""The summary of a range of days: stored days, cached months, and days replayed on the spot.

Closed days are read from ``stats_days``; a calendar month whose every day is
stored never changes again, so its merged summary is kept in a per-process
cache: a year then costs twelve cached months and the days of this month. Days
not stored yet (today, or not rolled up) are replayed from the event log.
"""

from __future__ import annotations

import calendar
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Service, Site, StatsDay
from .replay import SUMMARY_VERSION, Acc, Summary, summarize

MONTHS_CACHED = 512

# (database URL, site id, year, month) -> the month's merged summary and day totals.
_months: OrderedDict[tuple[str, int, int, int], Period] = OrderedDict()
_months_lock = threading.Lock()


@dataclass
class Period:
    """Merged accumulators of some days, and each day's totals (for day-by-day rows)."""

    merged: Summary = field(default_factory=Summary)
    days: dict[date, Acc] = field(default_factory=dict)

    def add_day(self, day: date, summary: Summary) -> None:
        self.merged.merge(summary)
        total = self.days.setdefault(day, Acc())
        total.merge(summary.total)

    def add(self, other: Period) -> None:
        self.merged.merge(other.merged)
        for day, total in other.days.items():
            self.days.setdefault(day, Acc()).merge(total)


def clear_cache() -> None:
    """Forget the cached months (after rebuilding stored days, and in tests)."""
    with _months_lock:
        _months.clear()


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def service_targets(session: Session, site: Site) -> dict[int, int]:
    """Target wait in minutes of each service of the site, by id."""
    rows = session.execute(
        select(Service.id, Service.target_wait_minutes).where(Service.site_id == site.id)
    )
    return {int(service_id): int(minutes) for service_id, minutes in rows}


def _stored_days(session: Session, site: Site, first: date, last: date) -> set[date]:
    return set(
        session.scalars(
            select(StatsDay.day).where(
                StatsDay.site_id == site.id,
                StatsDay.day >= first,
                StatsDay.day <= last,
                StatsDay.version == SUMMARY_VERSION,
            )
        )
    )


def _load(session: Session, site: Site, first: date, last: date) -> dict[date, Summary]:
    rows = session.execute(
        select(StatsDay.day, StatsDay.data).where(
            StatsDay.site_id == site.id,
            StatsDay.day >= first,
            StatsDay.day <= last,
            StatsDay.version == SUMMARY_VERSION,
        )
    )
    return {day: Summary.from_json(data) for day, data in rows}


def _full_months(first: date, last: date) -> list[tuple[date, date]]:
    """The calendar months lying wholly inside first..last."""
    months: list[tuple[date, date]] = []
    start = first if first.day == 1 else (first.replace(day=1) + timedelta(days=32)).replace(day=1)
    while True:
        end = start.replace(day=calendar.monthrange(start.year, start.month)[1])
        if end > last:
            return months
        months.append((start, end))
        start = end + timedelta(days=1)


def _month(session: Session, site: Site, start: date, end: date) -> Period:
    key = (str(session.get_bind().engine.url), site.id, start.year, start.month)
    with _months_lock:
        cached = _months.get(key)
        if cached is not None:
            _months.move_to_end(key)
            return cached
    period = Period()
    for day, summary in sorted(_load(session, site, start, end).items()):
        period.add_day(day, summary)
    with _months_lock:
        _months[key] = period
        while len(_months) > MONTHS_CACHED:
            _months.popitem(last=False)
    return period


def collect(session: Session, site: Site, first: date, last: date) -> Period:
    """The summary of the site's days first..last (site-local), from the event log only."""
    period = Period()
    stored = _stored_days(session, site, first, last)
    covered: set[date] = set()
    for start, end in _full_months(first, last):
        month_days = days_between(start, end)
        if all(day in stored for day in month_days):
            period.add(_month(session, site, start, end))
            covered.update(month_days)
    rest = [day for day in days_between(first, last) if day not in covered]
    for span_first, span_last in spans([day for day in rest if day in stored]):
        for day, summary in sorted(_load(session, site, span_first, span_last).items()):
            period.add_day(day, summary)
    missing = [day for day in rest if day not in stored]
    if missing:
        targets = service_targets(session, site)
        for span_first, span_last in spans(missing):
            for day, summary in summarize(session, site, span_first, span_last, targets).items():
                period.add_day(day, summary)
    return period


def spans(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive runs of days, as (first, last)."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs
