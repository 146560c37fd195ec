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


def choose_next(candidates: list[Candidate], now: datetime) -> Candidate | None:
    """Pick the ticket to call among the heads of the counter's services.

    Priority tickets (elderly, disabled, pregnant) come first. Then the longest
    wait wins, each wait multiplied by its service's weight at this counter: a
    service of weight 2 is served about twice as often as one of weight 1 when
    both have queues, and no service starves, since every wait keeps growing.
    Ties go to the older ticket.
    """
    if not candidates:
        return None
    priority = [c for c in candidates if c.is_priority]
    pool = priority or candidates

    def score(candidate: Candidate) -> tuple[float, int]:
        waited = max((now - candidate.waiting_since).total_seconds(), 0.0)
        return (waited * candidate.weight, -candidate.ticket_id)

    return max(pool, key=score)
