"""What a waiting-room display shows: the latest calls and the waiting counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Counter, Service, Site, Ticket, utcnow
from ..queue.days import service_day
from ..queue.estimates import waiting_counts
from .publish import iso


def board(
    session: Session,
    site: Site,
    *,
    limit: int = 8,
    now: datetime | None = None,
    service_codes: set[str] | None = None,
) -> dict[str, Any]:
    """The board of a site for today (two queries; public fields only).

    With ``service_codes``, only the calls and counts of those services (a
    display configured for some services).
    """
    now = now or utcnow()
    day = service_day(site, now)
    stmt = (
        select(
            Ticket.label,
            Ticket.called_at,
            Ticket.status,
            Counter.id,
            Counter.name,
            Service.code,
            Service.names,
        )
        .join(Counter, Counter.id == Ticket.counter_id)
        .join(Service, Service.id == Ticket.service_id)
        .where(Ticket.site_id == site.id, Ticket.service_day == day, Ticket.called_at.is_not(None))
        .order_by(Ticket.called_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    if service_codes is not None:
        stmt = stmt.where(Service.code.in_(sorted(service_codes)))
    rows = session.execute(stmt).all()
    language = site.default_language
    calls = [
        {
            "label": label,
            "counter": counter_name,
            "counter_id": counter_id,
            "service": code,
            "service_name": names.get(language) or next(iter(names.values()), code),
            "called_at": iso(called_at),
            "status": status.value,
        }
        for label, called_at, status, counter_id, counter_name, code, names in rows
    ]
    waiting = waiting_counts(session, site, day)
    if service_codes is not None:
        waiting = {code: n for code, n in waiting.items() if code in service_codes}
    return {
        "site": site.slug,
        "site_name": site.name,
        "calls": calls,
        "waiting": waiting,
        "generated_at": iso(now),
    }
