"""An office's published quality commitments, and how last month measured up.

Waiting times come from the statistics (the event log); satisfaction from the
ratings; answer times from the complaints register.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import format_decimal
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Commitment, CommitmentKind, Complaint, Feedback, Service, Site, utcnow
from ..queue import errors
from ..queue.days import service_day, zone
from .periods import collect
from .replay import Acc

LIMITS = {
    CommitmentKind.WAIT: (1, 480),  # minutes
    CommitmentKind.SATISFACTION: (1, 5),  # lowest rating that counts as satisfied
    CommitmentKind.COMPLAINT_ANSWER: (1, 365),  # days
}


@dataclass
class Measured:
    commitment: Commitment
    service: Service | None
    # Share meeting the commitment last month, in %, and out of how many.
    achieved_pct: float | None
    sample: int

    @property
    def met(self) -> bool | None:
        if self.achieved_pct is None:
            return None
        return self.achieved_pct >= self.commitment.target_pct


def describe(commitment: Commitment, service: Service | None = None) -> str:
    """The commitment as the office publishes it, in the current language."""
    # Numbers as the language writes them (4,5 in French).
    pct, threshold = format_decimal(commitment.target_pct), format_decimal(commitment.threshold)
    if commitment.kind == CommitmentKind.WAIT:
        if service is not None:
            return _(
                "%(pct)s %% of citizens for %(service)s called in less than %(minutes)s minutes",
                pct=pct,
                service=service.name,
                minutes=threshold,
            )
        return _(
            "%(pct)s %% of citizens called in less than %(minutes)s minutes",
            pct=pct,
            minutes=threshold,
        )
    if commitment.kind == CommitmentKind.SATISFACTION:
        return _(
            "%(pct)s %% of citizens satisfied (%(rating)s out of 5 or more)",
            pct=pct,
            rating=threshold,
        )
    return _("%(pct)s %% of complaints answered within %(days)s days", pct=pct, days=threshold)


def result_json(measured: Measured) -> dict[str, Any]:
    """A commitment and its measured result, as the API and pages give it."""
    commitment = measured.commitment
    return {
        "kind": commitment.kind.value,
        "threshold": commitment.threshold,
        "target_pct": commitment.target_pct,
        "service": measured.service.code if measured.service is not None else None,
        "text": describe(commitment, measured.service),
        "achieved_pct": measured.achieved_pct,
        "sample": measured.sample,
        "met": measured.met,
    }


def previous_month(site: Site, now: datetime) -> tuple[date, date]:
    """The first and last site-local days of the month before ``now``."""
    today = service_day(site, now)
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def commitments_of(session: Session, site: Site) -> list[Commitment]:
    return list(
        session.scalars(
            select(Commitment)
            .where(Commitment.site_id == site.id)
            .order_by(Commitment.position, Commitment.id)
        )
    )


def set_commitments(
    session: Session, site: Site, items: Sequence[Mapping[str, Any]]
) -> list[Commitment]:
    """Replace the site's commitments: [{"kind", "threshold", "target_pct", "service"?}, ...]."""
    built = []
    for position, item in enumerate(items):
        try:
            kind = CommitmentKind(str(item.get("kind")))
        except ValueError as exc:
            expected = [k.value for k in CommitmentKind]
            raise errors.InvalidInput(field="kind", expected=expected) from exc
        low, high = LIMITS[kind]
        threshold = _int(item.get("threshold"), "threshold", low, high)
        target = _int(item.get("target_pct"), "target_pct", 1, 100)
        service_id = None
        code = item.get("service")
        if code:
            if kind != CommitmentKind.WAIT:
                raise errors.InvalidInput(field="service", reason="only for waiting times")
            service = session.scalar(
                select(Service).where(Service.site_id == site.id, Service.code == code)
            )
            if service is None:
                raise errors.NotFound(service=code)
            service_id = service.id
        built.append(
            Commitment(
                site_id=site.id,
                kind=kind,
                threshold=threshold,
                target_pct=target,
                service_id=service_id,
                position=position,
            )
        )
    existing = commitments_of(session, site)
    for commitment in existing:
        session.delete(commitment)
    session.flush()
    session.add_all(built)
    session.flush()
    return built


def _int(value: Any, field: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise errors.InvalidInput(field=field, min=low, max=high) from exc
    if isinstance(value, bool) or not low <= number <= high:
        raise errors.InvalidInput(field=field, min=low, max=high)
    return number


def measure(
    session: Session, site: Site, first: date, last: date, *, now: datetime | None = None
) -> list[Measured]:
    """Each commitment of the site with its result over the days ``first``..``last``."""
    now = now or utcnow()
    commitments = commitments_of(session, site)
    if not commitments:
        return []
    merged = collect(session, site, first, last).merged
    services = {s.id: s for s in site.services}
    results = []
    for commitment in commitments:
        service = services.get(commitment.service_id) if commitment.service_id else None
        if commitment.kind == CommitmentKind.WAIT:
            acc = merged.groups["service"].get(service.id, Acc()) if service else merged.total
            within, sample = acc.share_waited_less_than(commitment.threshold)
        elif commitment.kind == CommitmentKind.SATISFACTION:
            within, sample = _satisfied(session, site, first, last, commitment.threshold)
        else:
            within, sample = _answered_in_time(
                session, site, first, last, commitment.threshold, now
            )
        pct = round(100 * within / sample, 1) if sample else None
        results.append(Measured(commitment, service, pct, sample))
    return results


def _satisfied(
    session: Session, site: Site, first: date, last: date, lowest: int
) -> tuple[int, int]:
    ratings = session.scalars(
        select(Feedback.rating).where(
            Feedback.site_id == site.id,
            Feedback.service_day >= first,
            Feedback.service_day <= last,
        )
    ).all()
    return sum(1 for rating in ratings if rating >= lowest), len(ratings)


def _answered_in_time(
    session: Session, site: Site, first: date, last: date, days: int, now: datetime
) -> tuple[int, int]:
    """Complaints filed in the range answered within ``days``; unanswered ones still in
    time are not counted yet, late ones count as missed."""
    tz = zone(site.timezone)
    start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    rows = session.execute(
        select(Complaint.created_at, Complaint.answered_at).where(
            Complaint.site_id == site.id,
            Complaint.created_at >= start,
            Complaint.created_at < end,
        )
    ).all()
    limit = timedelta(days=days)
    within = sample = 0
    for created_at, answered_at in rows:
        if answered_at is not None:
            sample += 1
            within += answered_at - created_at <= limit
        elif now - created_at > limit:
            sample += 1
    return within, sample
