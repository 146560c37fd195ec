"""A plain in-memory model of an office's queues, to compare the database's answers with.

What a citizen and an agent are told, written the simplest way: lists and
dictionaries, no SQL, no locks. tests/test_queue_model.py drives the domain
and this model with the same operations and compares every answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from queue_app.queue.policy import Candidate, choose_next

WAITING, CALLED, SERVING, DONE = "waiting", "called", "serving", "done"
NO_SHOW, CANCELLED = "no_show", "cancelled"
ACTIVE = (CALLED, SERVING)
RANK = {"appointment": -1, "priority": 0, "normal": 1}


class Refused(Exception):
    """The model refuses the operation (the domain must refuse it too)."""


@dataclass
class ModelTicket:
    id: int
    label: str
    number: int
    service: str
    day: date
    priority_class: str
    issued_at: datetime
    queued_at: datetime
    status: str = WAITING
    counter: str | None = None


@dataclass
class ModelService:
    code: str
    prefix: str
    seconds: int
    active: bool = True


@dataclass
class ModelCounter:
    name: str
    # service code -> weight
    services: dict[str, int]
    open: bool = True


@dataclass
class Queue:
    services: dict[str, ModelService]
    counters: dict[str, ModelCounter]
    tickets: dict[int, ModelTicket] = field(default_factory=dict)
    # (service, day) -> (last number, last arrival time)
    numbers: dict[tuple[str, date], tuple[int, datetime]] = field(default_factory=dict)

    # --- the order ---------------------------------------------------------------

    @staticmethod
    def key(ticket: ModelTicket, now: datetime) -> tuple[int, datetime, int]:
        """Rank, arrival, id: an appointment whose time has not come waits as anyone."""
        if ticket.priority_class == "appointment" and ticket.queued_at > now:
            return (RANK["normal"], ticket.issued_at, ticket.id)
        return (RANK[ticket.priority_class], ticket.queued_at, ticket.id)

    def waiting(self, service: str, day: date) -> list[ModelTicket]:
        return [
            t
            for t in self.tickets.values()
            if t.status == WAITING and t.service == service and t.day == day
        ]

    def position(self, ticket: ModelTicket, now: datetime) -> int | None:
        if ticket.status != WAITING:
            return None
        mine = self.key(ticket, now)
        return sum(
            1 for other in self.waiting(ticket.service, ticket.day) if self.key(other, now) < mine
        )

    def open_counters(self, service: str) -> int:
        return sum(1 for c in self.counters.values() if c.open and service in c.services)

    def estimate(self, ticket: ModelTicket, now: datetime) -> int | None:
        position = self.position(ticket, now)
        if position is None:
            return None
        if position <= 0:
            return 0
        seconds = self.services[ticket.service].seconds
        counters = max(self.open_counters(ticket.service), 1)
        return math.ceil(position * seconds / counters / 60)

    def waiting_counts(self, day: date) -> dict[str, int]:
        return {
            code: len(self.waiting(code, day))
            for code, service in self.services.items()
            if service.active or self.waiting(code, day)
        }

    # --- operations ----------------------------------------------------------------

    def issue(
        self,
        ticket_id: int,
        service: str,
        day: date,
        now: datetime,
        *,
        priority: bool = False,
        due_at: datetime | None = None,
    ) -> ModelTicket:
        info = self.services[service]
        if not info.active:
            raise Refused("service_inactive")
        number, last = self.numbers.get((service, day), (0, now))
        issued_at = max(now, last)
        self.numbers[(service, day)] = (number + 1, issued_at)
        if due_at is not None:
            priority_class = "appointment"
        else:
            priority_class = "priority" if priority else "normal"
        ticket = ModelTicket(
            id=ticket_id,
            label=f"{info.prefix}-{number + 1:03d}",
            number=number + 1,
            service=service,
            day=day,
            priority_class=priority_class,
            issued_at=issued_at,
            queued_at=max(issued_at, due_at) if due_at is not None else issued_at,
        )
        self.tickets[ticket_id] = ticket
        return ticket

    def call_next(self, counter_name: str, day: date, now: datetime) -> ModelTicket | None:
        counter = self.counters[counter_name]
        if not counter.open:
            raise Refused("counter_not_open")
        for ticket in self.tickets.values():
            if ticket.counter == counter_name and ticket.status in ACTIVE:
                ticket.status = DONE
        heads = {}
        for code, weight in counter.services.items():
            if not self.services[code].active:
                continue
            queue = sorted(self.waiting(code, day), key=lambda t: self.key(t, now))
            if queue:
                heads[code] = (queue[0], weight)
        candidates = [
            Candidate(
                ticket_id=head.id,
                service_id=hash(code),
                is_priority=head.priority_class == "priority",
                waiting_since=self.key(head, now)[1],
                weight=weight,
                is_appointment=head.priority_class == "appointment" and head.queued_at <= now,
            )
            for code, (head, weight) in heads.items()
        ]
        chosen = choose_next(candidates, now)
        if chosen is None:
            return None
        ticket = self.tickets[chosen.ticket_id]
        ticket.status = CALLED
        ticket.counter = counter_name
        return ticket

    def _require(self, ticket: ModelTicket, *allowed: str) -> None:
        if ticket.status not in allowed:
            raise Refused("invalid_transition")

    def recall(self, ticket: ModelTicket) -> None:
        self._require(ticket, CALLED)

    def start(self, ticket: ModelTicket) -> None:
        self._require(ticket, CALLED)
        ticket.status = SERVING

    def finish(self, ticket: ModelTicket) -> None:
        self._require(ticket, *ACTIVE)
        ticket.status = DONE

    def no_show(self, ticket: ModelTicket) -> None:
        self._require(ticket, CALLED)
        ticket.status = NO_SHOW

    def cancel(self, ticket: ModelTicket) -> None:
        self._require(ticket, WAITING, CALLED)
        ticket.status = CANCELLED

    def transfer(self, ticket: ModelTicket, service: str) -> None:
        self._require(ticket, WAITING, *ACTIVE)
        if service == ticket.service:
            raise Refused("invalid_transition")
        if not self.services[service].active:
            raise Refused("service_inactive")
        ticket.status = WAITING
        ticket.service = service
        ticket.counter = None

    def close_day(self, today: date) -> None:
        """Waiting tickets of days before ``today`` close; counters with nothing in progress."""
        for ticket in self.tickets.values():
            if ticket.status == WAITING and ticket.day < today:
                ticket.status = CANCELLED
        for name, counter in self.counters.items():
            busy = any(t.counter == name and t.status in ACTIVE for t in self.tickets.values())
            if not busy:
                counter.open = False


def next_morning(now: datetime, zone_offset: timedelta) -> datetime:
    """08:00 site-local on the day after ``now`` (a site of fixed offset)."""
    local = now + zone_offset
    morning = (local + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    return morning - zone_offset
