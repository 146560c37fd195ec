"""The call policy: which waiting ticket a counter calls next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Candidate:
    """The head of one service's queue, as seen by a counter."""

    ticket_id: int
    service_id: int
    is_priority: bool
    waiting_since: datetime
    weight: int = 1
    # A checked-in appointment whose slot has come (its waiting_since is that moment).
    is_appointment: bool = False


def choose_next(candidates: list[Candidate], now: datetime) -> Candidate | None:
    """Pick the ticket to call among the heads of the counter's services.

    Appointments whose slot has come come first, the earliest slot first (the
    counter only sees them once due: ``waiting_since`` is the slot start minus a
    grace period). Then priority tickets (elderly, disabled, pregnant). Then the longest
    wait wins, each wait multiplied by its service's weight at this counter: a
    service of weight 2 is served about twice as often as one of weight 1 when
    both have queues, and no service starves, since every wait keeps growing.
    Ties go to the older ticket.
    """
    if not candidates:
        return None
    appointments = [c for c in candidates if c.is_appointment]
    if appointments:
        return min(appointments, key=lambda c: (c.waiting_since, c.ticket_id))
    priority = [c for c in candidates if c.is_priority]
    pool = priority or candidates

    def score(candidate: Candidate) -> tuple[float, int]:
        waited = max((now - candidate.waiting_since).total_seconds(), 0.0)
        return (waited * candidate.weight, -candidate.ticket_id)

    return max(pool, key=score)
