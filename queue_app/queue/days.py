"""Site-local days and opening hours (times are stored in UTC, days are local)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from ..models import WEEKDAYS, Site


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for a site's time zone name (cached: looked up on every ticket)."""
    return ZoneInfo(name)


@lru_cache(maxsize=1)
def timezone_names() -> list[str]:
    """The IANA time zone names a site may use (from tzdata), sorted."""
    return sorted(available_timezones())


def is_valid_timezone(name: str) -> bool:
    """True when the IANA time zone name exists (one of ``timezone_names()``)."""
    if name not in _timezone_set():
        return False
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@lru_cache(maxsize=1)
def _timezone_set() -> frozenset[str]:
    return frozenset(timezone_names())


def local_now(site: Site, now: datetime) -> datetime:
    """The aware site-local time for an aware UTC instant."""
    return now.astimezone(zone(site.timezone))


def service_day(site: Site, now: datetime) -> date:
    """The site-local date that numbers tickets issued at ``now``."""
    return local_now(site, now).date()


def has_hours(site: Site) -> bool:
    """Whether opening hours are configured (None: always open; {} : closed every day)."""
    return site.hours is not None


def is_closure_day(site: Site, day: date) -> bool:
    """Whether the site-local day is one of the site's closure days (holidays)."""
    return any(closure.day == day for closure in site.closures)


def day_intervals(site: Site, day: date) -> list[tuple[time, time]]:
    """Opening intervals of a site-local day; empty when closed that day or without hours."""
    if not site.hours or is_closure_day(site, day):
        return []
    raw = site.hours.get(WEEKDAYS[day.weekday()], [])
    return [(parse_hhmm(start), parse_hhmm(end)) for start, end in raw]


def parse_hhmm(value: str) -> time:
    """Parse "08:30" into a time; raises ValueError otherwise."""
    hours, _, minutes = value.partition(":")
    if len(hours) != 2 or len(minutes) != 2 or not (hours + minutes).isdigit():
        raise ValueError(f"expected HH:MM, got {value!r}")
    return time(int(hours), int(minutes))


def closing_time(site: Site, day: date) -> datetime:
    """UTC instant the site's day ends: last closing time, or next local midnight.

    Midnight ends the days without an interval: a site without hours, and a
    closed day (tickets staff let in on such a day are closed after midnight).
    """
    tz = zone(site.timezone)
    intervals = day_intervals(site, day)
    if intervals:
        end = max(end for _, end in intervals)
        return datetime.combine(day, end, tzinfo=tz).astimezone(UTC)
    return end_of_day(site, day)


def end_of_day(site: Site, day: date) -> datetime:
    """UTC instant a site-local day ends: the site's next midnight."""
    # Midnight is computed from the next date so DST days keep their length.
    return datetime.combine(
        day + timedelta(days=1), time(0), tzinfo=zone(site.timezone)
    ).astimezone(UTC)


def accepts_tickets(site: Site, now: datetime) -> bool:
    """Whether a kiosk may still issue tickets now: not after today's closing time.

    Tickets before opening are fine (citizens queue early). A closure day
    (holiday) is closed. A site without hours configured is open every other
    day; with hours, a day without an interval is closed ({} closes every day).
    """
    today = service_day(site, now)
    if is_closure_day(site, today):
        return False
    if not has_hours(site):
        return True
    intervals = day_intervals(site, today)
    if not intervals:
        return False
    return now < closing_time(site, today)
