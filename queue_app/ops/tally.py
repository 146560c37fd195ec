"""Today's issues, calls and waits at call, tallied from the append-only event log.

``ticket_events`` is only ever appended to, so a process reads each event once:
its first scrape of a site's day reads that day's events, and every later one
only the events appended since (a few rows, through the primary key). Every
process reading the same log reaches the same figures: under gunicorn, any of
them may answer Prometheus.

A wait at call follows the statistics' meaning (quality/replay.py): from the
ticket's issue, or its transfer into another queue, to the call that ends it;
counted under the service of that queue. A recall is not a call.

On PostgreSQL an event's id is taken at its INSERT and visible at its COMMIT,
so an id may appear after a higher one was read: the last ``WINDOW`` ids are
read again at every scrape and the ones already counted skipped.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from ..models import EventKind, TicketEvent

# PostgreSQL: how many ids below the highest read may still commit (far more than the
# transactions an office's processes hold open at once). SQLite commits in id order.
WINDOW = 200
KINDS = (EventKind.ISSUED, EventKind.CALLED, EventKind.TRANSFERRED)


@dataclass
class ServiceDay:
    issued: int = 0
    called: int = 0
    buckets: list[int] = field(default_factory=list)  # waits per bucket (not cumulative)
    wait_sum: float = 0.0
    wait_count: int = 0


@dataclass
class SiteDay:
    day: date
    start: datetime
    services: dict[int, ServiceDay] = field(default_factory=dict)
    # Tickets waiting in a queue entered today: ticket id -> when they entered it.
    entered: dict[int, datetime] = field(default_factory=dict)


class Tally:
    """One process's tally of the current service day of every site."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self._lock = threading.Lock()
        self._sites: dict[int, SiteDay] = {}
        self._cursor = 0
        self._seen: set[int] = set()

    def read(
        self, session: Session, starts: dict[int, tuple[date, datetime]]
    ) -> dict[int, ServiceDay]:
        """Bring the tally up to date; {service id: its day so far}, for the sites' current days."""
        with self._lock:
            stale = [
                site_id
                for site_id, (day, _) in starts.items()
                if site_id not in self._sites or self._sites[site_id].day != day
            ]
            if stale:
                self._rebuild(session, starts)
            else:
                self._advance(session)
            totals: dict[int, ServiceDay] = {}
            for site in self._sites.values():
                totals.update(site.services)
            return totals

    def _rebuild(self, session: Session, starts: dict[int, tuple[date, datetime]]) -> None:
        """Read every site's day from its start (first scrape, or a new day somewhere)."""
        self._sites = {site_id: SiteDay(day, start) for site_id, (day, start) in starts.items()}
        self._seen = set()
        self._cursor = 0
        if not starts:
            return
        rows = (
            session.connection()
            .execute(
                _columns().where(
                    or_(
                        *(
                            (TicketEvent.site_id == site_id) & (TicketEvent.at >= start)
                            for site_id, (_, start) in starts.items()
                        )
                    )
                )
            )
            .all()
        )
        self._apply(rows)

    def _advance(self, session: Session) -> None:
        late = WINDOW if session.get_bind().dialect.name == "postgresql" else 0
        floor = self._cursor - late
        if late:
            # Ids only (the primary key's index), then the rows of those not counted yet.
            ids = session.connection().execute(_IDS_AFTER, {"floor": floor}).scalars().all()
            new = [event_id for event_id in ids if event_id not in self._seen]
            if not new:
                return
            floor = min(new) - 1
        rows = session.connection().execute(_AFTER, {"floor": floor}).all()
        self._apply([row for row in rows if row[0] not in self._seen])

    def _apply(self, rows: Sequence[Any]) -> None:
        for event_id, site_id, service_id, ticket_id, kind, at in sorted(rows):
            self._seen.add(event_id)
            self._cursor = max(self._cursor, event_id)
            site = self._sites.get(site_id)
            if site is None or at < site.start:
                continue
            service = site.services.get(service_id)
            if service is None:
                service = site.services[service_id] = ServiceDay(
                    buckets=[0] * (len(self.bounds) + 1)
                )
            if kind == EventKind.ISSUED:
                service.issued += 1
                site.entered[ticket_id] = at
            elif kind == EventKind.TRANSFERRED:
                site.entered[ticket_id] = at
            elif kind == EventKind.CALLED:
                service.called += 1
                entered = site.entered.pop(ticket_id, None)
                if entered is not None:
                    wait = max((at - entered).total_seconds(), 0.0)
                    service.buckets[bisect.bisect_left(self.bounds, wait)] += 1
                    service.wait_sum += wait
                    service.wait_count += 1
        floor = self._cursor - WINDOW
        if len(self._seen) > 4 * WINDOW:
            self._seen = {event_id for event_id in self._seen if event_id > floor}


def _columns() -> Any:
    return select(
        TicketEvent.id,
        TicketEvent.site_id,
        TicketEvent.service_id,
        TicketEvent.ticket_id,
        TicketEvent.kind,
        TicketEvent.at,
    ).where(TicketEvent.kind.in_(KINDS))


_AFTER = _columns().where(TicketEvent.id > bindparam("floor"))
_IDS_AFTER = select(TicketEvent.id).where(TicketEvent.id > bindparam("floor"))
