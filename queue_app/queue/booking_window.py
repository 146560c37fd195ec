"""Why a day cannot be booked, so that a citizen is told what is wrong and what is possible."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from ..models import Service, Site
from .booking import BookingRules, available_slots, booking_horizon, slot_grid


class DayProblem(enum.StrEnum):
    PAST = "past"  # the day is over (or today's last slot has gone)
    TOO_FAR = "too_far"  # beyond the service's booking window
    CLOSED = "closed"  # the office does not open that day (weekday, holiday)
    FULL = "full"  # every slot of the day is taken


@dataclass(frozen=True)
class DayVerdict:
    """Whether a day can be booked; when not, why, and the window that can be."""

    problem: DayProblem | None
    first_day: date
    last_day: date


def judge_day(
    session: Session,
    site: Site,
    service: Service,
    day: date,
    *,
    now: datetime,
    rules: BookingRules,
) -> DayVerdict:
    """What stands between a citizen and a slot on ``day`` (None: some slot is free)."""
    first, last = booking_horizon(site, service, now)
    problem: DayProblem | None = None
    if day < first:
        problem = DayProblem.PAST
    elif day > last:
        problem = DayProblem.TOO_FAR
    elif not slot_grid(site, service, day, rules.default_hours):
        problem = DayProblem.CLOSED
    else:
        slots = available_slots(session, site, service, day, now=now, rules=rules)
        if not slots:
            # Opens that day, but its last slot is already too close or gone.
            problem = DayProblem.PAST
        elif not any(slot.available > 0 for slot in slots):
            problem = DayProblem.FULL
    return DayVerdict(problem, first, last)
