"""Statistics of a site (or several) over a range of site-local days.

Closed days are read from ``stats_days`` (summaries computed once from the
event log by the rollup job); the other days of the range — today, or any day
the job has not summarised yet — are replayed from the event log on the spot.
Either way the figures come from ``ticket_events`` only (invariant 6), and a
range of a year reads ~365 small rows instead of millions of events.
Satisfaction comes from the ratings themselves, grouped in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Counter, Feedback, Service, Site, User
from ..queue import errors
from .periods import Period, collect, days_between
from .replay import Acc, Summary, percentile

MAX_RANGE_DAYS = 731
RATINGS = (1, 2, 3, 4, 5)


# --- ranges ---------------------------------------------------------------------------


def parse_day(raw: str | None, field_name: str) -> date | None:
    """A YYYY-MM-DD date, None when empty; InvalidInput otherwise."""
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise errors.InvalidInput(field=field_name, expected="YYYY-MM-DD") from exc


def check_range(first: date, last: date) -> None:
    """Refuse a range that ends before it starts or spans more than two years."""
    if last < first:
        raise errors.InvalidInput(field="to", reason="the range ends before it starts")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise errors.InvalidInput(field="to", max_days=MAX_RANGE_DAYS)


# --- satisfaction ------------------------------------------------------------------------


@dataclass
class Satisfaction:
    distribution: dict[int, int] = field(default_factory=lambda: dict.fromkeys(RATINGS, 0))

    def add(self, rating: int, count: int) -> None:
        self.distribution[rating] = self.distribution.get(rating, 0) + count

    @property
    def count(self) -> int:
        return sum(self.distribution.values())

    def to_json(self) -> dict[str, Any]:
        count = self.count
        total = sum(rating * n for rating, n in self.distribution.items())
        return {
            "mean": round(total / count, 2) if count else None,
            "count": count,
            "distribution": {str(rating): self.distribution.get(rating, 0) for rating in RATINGS},
        }


@dataclass
class Ratings:
    total: Satisfaction = field(default_factory=Satisfaction)
    groups: dict[tuple[str, Any], Satisfaction] = field(default_factory=dict)

    def group(self, dimension: str, key: Any) -> Satisfaction:
        found = self.groups.get((dimension, key))
        if found is None:
            found = self.groups[(dimension, key)] = Satisfaction()
        return found


def ratings(
    session: Session,
    sites: Sequence[Site],
    first: date,
    last: date,
    *,
    service_key: dict[int, Any] | None = None,
    national: bool = False,
) -> Ratings:
    """Ratings of tickets of the range's days, per dimension (and per day and site)."""
    found = Ratings()
    site_ids = [site.id for site in sites]
    in_range = (
        Feedback.site_id.in_(site_ids),
        Feedback.service_day >= first,
        Feedback.service_day <= last,
    )
    grouped = session.execute(
        select(
            Feedback.site_id,
            Feedback.service_id,
            Feedback.counter_id,
            Feedback.agent_id,
            Feedback.hour,
            Feedback.rating,
            func.count(),
        )
        .where(*in_range)
        .group_by(
            Feedback.site_id,
            Feedback.service_id,
            Feedback.counter_id,
            Feedback.agent_id,
            Feedback.hour,
            Feedback.rating,
        )
    )
    for site_id, service_id, counter_id, agent_id, hour, rating, count in grouped:
        found.total.add(rating, count)
        found.group("hour", hour).add(rating, count)
        key = service_key.get(service_id, service_id) if service_key else service_id
        found.group("service", key).add(rating, count)
        if national:
            found.group("site", site_id).add(rating, count)
        else:
            if counter_id is not None:
                found.group("counter", counter_id).add(rating, count)
            if agent_id is not None:
                found.group("agent", agent_id).add(rating, count)
    per_day = session.execute(
        select(Feedback.service_day, Feedback.rating, func.count())
        .where(*in_range)
        .group_by(Feedback.service_day, Feedback.rating)
    )
    for day, rating, count in per_day:
        found.group("day", day).add(rating, count)
    return found


# --- rows of the report ------------------------------------------------------------------


def _minutes(n: int, total_seconds: float, hist: list[int]) -> dict[str, Any]:
    if not n:
        return {"mean": None, "median": None, "p90": None, "count": 0}
    median, p90 = percentile(hist, 0.5), percentile(hist, 0.9)
    return {
        "mean": round(total_seconds / n / 60, 1),
        "median": round(median, 1) if median is not None else None,
        "p90": round(p90, 1) if p90 is not None else None,
        "count": n,
    }


def row(acc: Acc, satisfaction: Satisfaction | None) -> dict[str, Any]:
    """One row of the statistics: a site, service, counter, agent, hour or day."""
    return {
        "issued": acc.issued,
        "served": acc.served,
        "no_show": acc.no_show,
        "cancelled": acc.cancelled,
        "transferred": acc.transferred,
        "waiting_minutes": _minutes(acc.wait_n, acc.wait_sum, acc.wait_hist),
        "service_minutes": _minutes(acc.service_n, acc.service_sum, acc.service_hist),
        "within_target_pct": round(100 * acc.wait_within / acc.wait_n, 1) if acc.wait_n else None,
        "satisfaction": (satisfaction or Satisfaction()).to_json(),
        "estimate_error_minutes": {
            "mean": round(acc.estimate_error_sum / acc.estimate_n / 60, 1)
            if acc.estimate_n
            else None,
            "count": acc.estimate_n,
        },
    }


def _names_of(session: Session, model: Any, ids: Iterable[int]) -> dict[int, Any]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return {obj.id: obj for obj in session.scalars(select(model).where(model.id.in_(wanted)))}


def site_report(session: Session, site: Site, first: date, last: date) -> dict[str, Any]:
    """The statistics of one site (GET /api/v1/sites/<slug>/stats)."""
    check_range(first, last)
    period = collect(session, site, first, last)
    merged = period.merged
    rated = ratings(session, [site], first, last)

    services = {s.id: s for s in session.scalars(select(Service).where(Service.site_id == site.id))}
    counters = _names_of(session, Counter, merged.groups["counter"].keys())
    counters.update({c.id: c for c in site.counters})
    agents = _names_of(
        session,
        User,
        set(merged.groups["agent"]) | {k for (d, k) in rated.groups if d == "agent"},
    )

    service_ids = sorted(
        set(merged.groups["service"]) | {k for (d, k) in rated.groups if d == "service"},
        key=lambda i: (services[i].position, i) if i in services else (10_000, i),
    )
    return {
        "site": site.slug,
        "site_name": site.name,
        "timezone": site.timezone,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "totals": row(merged.total, rated.total),
        "services": [
            {
                "code": services[i].code if i in services else str(i),
                "name": services[i].name if i in services else str(i),
                "target_wait_minutes": services[i].target_wait_minutes if i in services else None,
                **row(merged.groups["service"].get(i, Acc()), rated.groups.get(("service", i))),
            }
            for i in service_ids
        ],
        "counters": [
            {
                "id": i,
                "name": counters[i].name if i in counters else f"#{i}",
                **row(acc, rated.groups.get(("counter", i))),
            }
            for i, acc in sorted(
                _with_rated(merged.groups["counter"], rated, "counter").items(),
                key=lambda item: (
                    (counters[item[0]].position, item[0]) if item[0] in counters else (0, item[0])
                ),
            )
        ],
        "agents": [
            {
                "id": i,
                "name": agents[i].display_name if i in agents else f"#{i}",
                **row(acc, rated.groups.get(("agent", i))),
            }
            for i, acc in sorted(_with_rated(merged.groups["agent"], rated, "agent").items())
        ],
        "hours": [
            {"hour": hour, **row(acc, rated.groups.get(("hour", hour)))}
            for hour, acc in sorted(_with_rated(merged.groups["hour"], rated, "hour").items())
        ],
        "days": _day_rows(period.days, rated, first, last),
    }


def _with_rated(groups: dict[Any, Acc], rated: Ratings, dimension: str) -> dict[Any, Acc]:
    """The groups with tickets, plus those with ratings only (rated later than their day)."""
    combined = dict(groups)
    for kind, key in rated.groups:
        if kind == dimension and key not in combined:
            combined[key] = Acc()
    return combined


def _day_rows(
    days: dict[date, Acc], rated: Ratings, first: date, last: date
) -> list[dict[str, Any]]:
    return [
        {"day": day.isoformat(), **row(days.get(day, Acc()), rated.groups.get(("day", day)))}
        for day in days_between(first, last)
    ]


def multi_site_report(
    session: Session, sites: Sequence[Site], first: date, last: date
) -> dict[str, Any]:
    """Statistics across several sites: per site, per service code, per hour and day.

    Each site's days are its own local days; services are grouped by code
    across sites (CNI is CNI everywhere).
    """
    check_range(first, last)
    merged = Summary()
    per_site: dict[int, Acc] = {}
    per_day = Period()
    service_code: dict[int, str] = {}
    names: dict[str, str] = {}
    for site in sites:
        services = session.scalars(select(Service).where(Service.site_id == site.id)).all()
        for service in services:
            service_code[service.id] = service.code
            names.setdefault(service.code, service.name)
        period = collect(session, site, first, last)
        summary = period.merged
        per_site[site.id] = summary.total
        merged.total.merge(summary.total)
        for hour, acc in summary.groups["hour"].items():
            merged.group("hour", hour).merge(acc)
        for service_id, acc in summary.groups["service"].items():
            merged.group("service", service_code.get(service_id, str(service_id))).merge(acc)
        for day, total in period.days.items():
            per_day.days.setdefault(day, Acc()).merge(total)
    rated = ratings(session, sites, first, last, service_key=service_code, national=True)
    codes = sorted(set(merged.groups["service"]) | {k for (d, k) in rated.groups if d == "service"})
    return {
        "sites": [
            {
                "slug": site.slug,
                "name": site.name,
                **row(per_site.get(site.id, Acc()), rated.groups.get(("site", site.id))),
            }
            for site in sites
        ],
        "from": first.isoformat(),
        "to": last.isoformat(),
        "totals": row(merged.total, rated.total),
        "services": [
            {
                "code": code,
                "name": names.get(code, code),
                **row(
                    merged.groups["service"].get(code, Acc()), rated.groups.get(("service", code))
                ),
            }
            for code in codes
        ],
        "hours": [
            {"hour": hour, **row(acc, rated.groups.get(("hour", hour)))}
            for hour, acc in sorted(_with_rated(merged.groups["hour"], rated, "hour").items())
        ],
        "days": _day_rows(per_day.days, rated, first, last),
    }
