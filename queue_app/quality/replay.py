"""Replaying the ticket event log into daily summaries (invariant 6: the only source).

Each ticket's events are read in order. A ticket belongs to the site-local day
and hour it was issued (its cohort): "citizens who came on Monday between 10
and 11 waited 23 minutes on average". Within a ticket, each stay in a queue
(from issue, or from a transfer, to the call) is one wait, counted for the
service, counter and agent of that call; the time at the counter runs from
the start (or the last call) to the finish.

Waits and service times are kept as exact sums (the means are exact) and as
histograms in whole minutes, so that days can be added up and medians and
90th percentiles taken over any range: a wait of 12 min 40 s counts as 12 in
them. The share within target compares exact seconds with the service's target.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import groupby
from operator import add
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from ..models import EventKind, Site, TicketEvent
from ..queue.days import zone

# 2: histograms as dense lists (index = whole minutes), which add up fast.
SUMMARY_VERSION = 2
DIMENSIONS = ("service", "counter", "agent", "hour")
# Events of a ticket may come after its day (a ticket served past midnight).
TAIL = timedelta(days=2)

_CANCELLED = (EventKind.CANCELLED, EventKind.DAY_CLOSED)


def _add_hist(hist: list[int], seconds: float) -> None:
    minute = int(seconds // 60)
    if minute >= len(hist):
        hist.extend([0] * (minute + 1 - len(hist)))
    hist[minute] += 1


def _merge_hist(mine: list[int], other: list[int]) -> None:
    size = len(other)
    if len(mine) < size:
        mine.extend([0] * (size - len(mine)))
    # map() adds in C: merging a year of days stays fast.
    mine[:size] = map(add, mine[:size], other)


@dataclass
class Acc:
    """Counts and durations of one group (a service, a counter, an hour…) over some days."""

    issued: int = 0
    served: int = 0
    no_show: int = 0
    cancelled: int = 0
    transferred: int = 0
    wait_n: int = 0
    wait_sum: float = 0.0  # seconds
    wait_within: int = 0
    wait_hist: list[int] = field(default_factory=list)  # [count of waits of 0 min, 1 min, ...]
    service_n: int = 0
    service_sum: float = 0.0
    service_hist: list[int] = field(default_factory=list)
    estimate_n: int = 0
    estimate_error_sum: float = 0.0  # seconds between the estimate at issue and the wait

    def add_wait(self, seconds: float, target_seconds: int | None) -> None:
        self.wait_n += 1
        self.wait_sum += seconds
        if target_seconds is not None and seconds <= target_seconds:
            self.wait_within += 1
        _add_hist(self.wait_hist, seconds)

    def add_service(self, seconds: float) -> None:
        self.service_n += 1
        self.service_sum += seconds
        _add_hist(self.service_hist, seconds)

    def merge(self, other: Acc) -> None:
        for name in _SCALARS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        _merge_hist(self.wait_hist, other.wait_hist)
        _merge_hist(self.service_hist, other.service_hist)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: getattr(self, name) for name in _SCALARS}
        data["wait_hist"] = self.wait_hist
        data["service_hist"] = self.service_hist
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Acc:
        acc = cls(**{name: data.get(name, 0) for name in _SCALARS})
        acc.wait_hist = list(data.get("wait_hist", ()))
        acc.service_hist = list(data.get("service_hist", ()))
        return acc

    def share_waited_less_than(self, minutes: int) -> tuple[int, int]:
        """(how many waited less than ``minutes`` whole minutes, how many waits)."""
        return sum(self.wait_hist[:minutes]), self.wait_n


_SCALARS = (
    "issued",
    "served",
    "no_show",
    "cancelled",
    "transferred",
    "wait_n",
    "wait_sum",
    "wait_within",
    "service_n",
    "service_sum",
    "estimate_n",
    "estimate_error_sum",
)


@dataclass
class Summary:
    """Accumulators of one day (or several merged): totals and one per group of each dimension."""

    total: Acc = field(default_factory=Acc)
    groups: dict[str, dict[Any, Acc]] = field(default_factory=lambda: {d: {} for d in DIMENSIONS})

    def group(self, dimension: str, key: Any) -> Acc:
        table = self.groups.setdefault(dimension, {})
        acc = table.get(key)
        if acc is None:
            acc = table[key] = Acc()
        return acc

    def merge(self, other: Summary, *, dimensions: Sequence[str] = DIMENSIONS) -> None:
        self.total.merge(other.total)
        for dimension in dimensions:
            for key, acc in other.groups.get(dimension, {}).items():
                self.group(dimension, key).merge(acc)

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total.to_json(),
            **{
                dimension: {str(key): acc.to_json() for key, acc in table.items()}
                for dimension, table in self.groups.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Summary:
        summary = cls(total=Acc.from_json(data.get("total", {})))
        for dimension in DIMENSIONS:
            summary.groups[dimension] = {
                int(key): Acc.from_json(value) for key, value in data.get(dimension, {}).items()
            }
        return summary


def percentile(hist: list[int], q: float) -> float | None:
    """The q-quantile (0..1) of a histogram of whole minutes, interpolated between ranks."""
    n = sum(hist)
    if n == 0:
        return None
    position = q * (n - 1)
    low, high = math.floor(position), math.ceil(position)

    def value_at(rank: int) -> int:
        seen = 0
        for value, count in enumerate(hist):
            seen += count
            if rank < seen:
                return value
        return len(hist) - 1

    low_value = value_at(low)
    high_value = value_at(high) if high != low else low_value
    return low_value + (high_value - low_value) * (position - low)


def day_bounds(site: Site, first: date, last: date) -> tuple[datetime, datetime]:
    """UTC instants of the start of ``first`` and the end of ``last``, site-local days."""
    tz = zone(site.timezone)
    start = datetime.combine(first, time(0), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    return start, end


def event_rows(session: Session, site: Site, first: date, last: date) -> Iterator[Row[Any]]:
    """Every event of the tickets issued at the site from ``first`` to ``last`` (local days),
    ordered by ticket then time; both bounds on ``ix_ticket_events_site_at``."""
    start, end = day_bounds(site, first, last)
    issued = select(TicketEvent.ticket_id).where(
        TicketEvent.site_id == site.id,
        TicketEvent.kind == EventKind.ISSUED,
        TicketEvent.at >= start,
        TicketEvent.at < end,
    )
    statement = (
        select(
            TicketEvent.ticket_id,
            TicketEvent.kind,
            TicketEvent.at,
            TicketEvent.service_id,
            TicketEvent.counter_id,
            TicketEvent.user_id,
            TicketEvent.data,
        )
        .where(
            TicketEvent.site_id == site.id,
            TicketEvent.at >= start,
            TicketEvent.at < end + TAIL,
            TicketEvent.ticket_id.in_(issued),
        )
        .order_by(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.id)
        .execution_options(yield_per=5000)
    )
    yield from session.execute(statement)


def summarize(
    session: Session, site: Site, first: date, last: date, targets: dict[int, int]
) -> dict[date, Summary]:
    """Summaries of each local day from ``first`` to ``last`` (days without tickets are absent).

    ``targets`` maps a service id to its target wait in minutes.
    """
    return replay(event_rows(session, site, first, last), zone(site.timezone), targets)


def replay(
    rows: Iterable[Sequence[Any]], tz: ZoneInfo, targets: dict[int, int]
) -> dict[date, Summary]:
    """Summaries per day from event rows (ticket_id, kind, at, service, counter, user, data)."""
    target_seconds = {service_id: minutes * 60 for service_id, minutes in targets.items()}
    days: dict[date, Summary] = {}
    for _, events in groupby(rows, key=lambda row: row[0]):
        _replay_ticket(list(events), tz, target_seconds, days)
    return days


def _replay_ticket(
    events: list[Sequence[Any]],
    tz: ZoneInfo,
    targets: dict[int, int],
    days: dict[date, Summary],
) -> None:
    _, kind, issued_at, issued_service, _, _, data = events[0]
    if kind != EventKind.ISSUED:
        return  # issued before the rows read (cannot happen with event_rows)
    local = issued_at.astimezone(tz)
    summary = days.get(local.date())
    if summary is None:
        summary = days[local.date()] = Summary()
    hour = local.hour

    def accs(service_id: int | None, counter_id: int | None, agent_id: int | None) -> list[Acc]:
        found = [summary.total, summary.group("hour", hour)]
        if service_id is not None:
            found.append(summary.group("service", service_id))
        if counter_id is not None:
            found.append(summary.group("counter", counter_id))
        if agent_id is not None:
            found.append(summary.group("agent", agent_id))
        return found

    for acc in accs(issued_service, None, None):
        acc.issued += 1
    estimate = (data or {}).get("estimate") if isinstance(data, dict) else None

    segment_start, segment_service = issued_at, issued_service
    call: Sequence[Any] | None = None
    began: datetime | None = None
    started = False
    first_call = True
    for _, kind, at, service_id, counter_id, user_id, _data in events[1:]:
        agent = call[5] if call is not None else user_id
        if kind == EventKind.CALLED:
            if call is None:
                call = (None, kind, at, service_id, counter_id, user_id)
                wait = max((at - segment_start).total_seconds(), 0.0)
                for acc in accs(service_id, counter_id, user_id):
                    acc.add_wait(wait, targets.get(service_id))
                if first_call and estimate is not None:
                    error = abs(float(estimate) * 60 - wait)
                    for acc in accs(issued_service, None, None):
                        acc.estimate_n += 1
                        acc.estimate_error_sum += error
                first_call = False
            if not started:
                began = at
        elif kind == EventKind.RECALLED:
            if not started:
                began = at
        elif kind == EventKind.STARTED:
            began, started = at, True
        elif kind == EventKind.FINISHED:
            for acc in accs(service_id, counter_id, agent):
                acc.served += 1
                if began is not None:
                    acc.add_service(max((at - began).total_seconds(), 0.0))
        elif kind == EventKind.NO_SHOW:
            for acc in accs(service_id, counter_id, agent):
                acc.no_show += 1
        elif kind in _CANCELLED:
            for acc in accs(service_id, counter_id, agent if call is not None else None):
                acc.cancelled += 1
        elif kind == EventKind.TRANSFERRED:
            for acc in accs(segment_service, counter_id, agent if call is not None else None):
                acc.transferred += 1
            segment_start, segment_service = at, service_id
            call, began, started = None, None, False
