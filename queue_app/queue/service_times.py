"""Expected service time of a service at an hour of the day, for waiting estimates.

The figures are learned from the ticket event log by a periodic job
(``queue_app.quality.learning``) and kept in ``service_time_profiles``: the mean
service time per service and site-local hour, and over all hours (hour -1).
Issuing a ticket is a hot path, so they are read through a per-process cache:
one dictionary lookup per ticket, and one small query per service every
``CACHE_SECONDS``. A service without enough history falls back to its
``avg_service_seconds`` (seeded by the manager; the learning job moves it too).
Nothing is learned in the transaction that finishes a ticket: a row written by
every finish of a service would make its agents wait for each other.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..models import Service, ServiceTimeProfile
from .days import zone

ALL_HOURS = -1
CACHE_SECONDS = 300.0

_PROFILE = select(ServiceTimeProfile.hour, ServiceTimeProfile.mean_seconds).where(
    ServiceTimeProfile.service_id == bindparam("service_id")
)

# (database URL, service id) -> (monotonic time loaded, {hour: mean seconds})
_cache: dict[tuple[Any, int], tuple[float, dict[int, int]]] = {}
_cache_lock = threading.Lock()


def clear_cache() -> None:
    """Forget the cached profiles (after the learning job, and in tests)."""
    with _cache_lock:
        _cache.clear()


def _profile(session: Session, service_id: int) -> dict[int, int]:
    now = time.monotonic()
    key = (session.get_bind().engine.url, service_id)
    cached = _cache.get(key)
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    rows = session.execute(_PROFILE, {"service_id": service_id}).all()
    profile = {int(hour): int(seconds) for hour, seconds in rows}
    with _cache_lock:
        _cache[key] = (now, profile)
    return profile


def expected_seconds(session: Session, service: Service, timezone: str, moment: datetime) -> int:
    """Seconds one citizen of this service is expected to take at the counter at ``moment``.

    ``timezone``: the service's site's (the learned means are per site-local hour).
    """
    profile = _profile(session, service.id)
    if profile:
        hour = moment.astimezone(zone(timezone)).hour
        learned = profile.get(hour) or profile.get(ALL_HOURS)
        if learned:
            return learned
    return service.avg_service_seconds


def expected_service_seconds(session: Session, service: Service, moment: datetime) -> int:
    """:func:`expected_seconds` of a service whose site is loaded."""
    return expected_seconds(session, service, service.site.timezone, moment)
