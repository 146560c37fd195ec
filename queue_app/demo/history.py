"""Past weeks of plausible activity for the demo office, made by the product's own operations.

A new demo office has no past: its dashboard and its public commitments page
would say "pas encore mesuré" everywhere. :func:`load_history` plays the
office's working days (Monday to Friday) before ``now`` as they would have
happened: citizens take tickets at the kiosk (more on Monday mornings, fewer on
Friday afternoons), agents open their counters, call, serve, mark no-shows,
pause for lunch and close; some citizens rate their visit on the tablet or on
their phone; a few file complaints or suggestions, which the manager answers.
Every row comes from the domain operations (issue_ticket, call_next, start,
finish, mark_no_show, record_feedback, submit_complaint, answer...), each
given its own ``now``, so the figures are those the product computes from a
real office. The draws come from a seeded random generator: the same seed and
``now`` give the same history. One commit per day.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    Complaint,
    ComplaintKind,
    Counter,
    CounterState,
    Device,
    DeviceKind,
    FeedbackSource,
    Role,
    Site,
    Ticket,
    TicketSource,
    TicketStatus,
    User,
    utcnow,
)
from ..quality.complaints import answer, assign, assignable_staff, close, submit_complaint
from ..quality.feedback import record_feedback
from ..quality.learning import learn_site
from ..quality.rollup import roll_up
from ..queue.actors import Actor
from ..queue.calling import call_next
from ..queue.counters import close_counter, open_counter, pause_counter
from ..queue.days import service_day, zone
from ..queue.tickets import cancel, finish, issue_ticket, mark_no_show, recall, start

DEFAULT_DAYS = 60
DEFAULT_SEED = 20260

# Citizens per working day and service code; other services get OTHER_DAILY.
DAILY_ARRIVALS: dict[str, float] = {}
OTHER_DAILY = 15
# Monday is the busiest day, Friday afternoon the quietest (Friday prayer).
WEEKDAY_FACTOR = {0: 1.25, 1: 1.05, 2: 1.0, 3: 0.95, 4: 0.8}
# Arrivals by local hour: a queue forms before opening, the morning is busiest.
HOUR_WEIGHTS = {7: 0.5, 8: 1.7, 9: 1.8, 10: 1.4, 11: 1.0, 12: 0.3, 14: 0.8, 15: 0.7, 16: 0.4}
FRIDAY_AFTERNOON = 0.5
# Arrival windows and counter sessions, local time (minutes after midnight).
MORNING = (7 * 60 + 40, 12 * 60 + 15)
AFTERNOON = (14 * 60, 16 * 60 + 45)
COUNTERS_OPEN = (8 * 60, 14 * 60)

NO_SHOW = 0.07
# Citizens who leave when their wait runs long (30 to 90 minutes without a call).
IMPATIENT = 0.3
PRIORITY = 0.05
# Who rates: on the counter's tablet, on the tracking page (others).
TABLET_RATES = 0.55
WEB_RATES = 0.12
COMMENT = 0.1
COMPLAINTS_PER_DAY = 0.3

COMMENTS_GOOD = [
    "Accueil très correct, merci.",
    "Rapide et efficace.",
    "L'agent a bien expliqué les pièces à fournir.",
    "Très bon service, je reviendrai.",
]
COMMENTS_BAD = [
    "Trop d'attente ce matin.",
    "Il manquait des chaises dans la salle d'attente.",
    "On m'a renvoyé chercher une pièce, j'aurais aimé le savoir avant.",
    "L'écran n'affichait pas mon numéro au début.",
]
COMPLAINTS = [
    (ComplaintKind.COMPLAINT, "Deux heures d'attente pour un simple retrait de document."),
    (ComplaintKind.COMPLAINT, "Le guichet a fermé avant l'heure alors que nous attendions encore."),
    (ComplaintKind.COMPLAINT, "On m'a demandé une pièce qui n'était indiquée nulle part."),
    (ComplaintKind.SUGGESTION, "Il faudrait afficher la liste des pièces à fournir à l'entrée."),
    (ComplaintKind.SUGGESTION, "Un point d'eau dans la salle d'attente serait le bienvenu."),
    (ComplaintKind.SUGGESTION, "Pouvoir prendre rendez-vous par SMS pour le permis aussi."),
]
ANSWERS = [
    "Merci pour votre message. Nous avons renforcé l'accueil le matin.",
    "Merci, la liste des pièces est désormais affichée à l'entrée et sur le ticket.",
    "Nous vous présentons nos excuses ; l'équipe a été informée.",
]


@dataclass
class History:
    """What :func:`load_history` played."""

    days: int = 0
    tickets: int = 0
    served: int = 0
    no_shows: int = 0
    cancelled: int = 0
    ratings: int = 0
    complaints: int = 0
    seconds: float = 0.0
    skipped: bool = False


def has_history(session: Session, site: Site, before: date) -> bool:
    """Whether the site already holds tickets of a day before ``before``."""
    return (
        session.scalar(
            select(Ticket.id).where(Ticket.site_id == site.id, Ticket.service_day < before).limit(1)
        )
        is not None
    )


def load_history(
    session: Session,
    site: Site,
    *,
    days: int = DEFAULT_DAYS,
    now: datetime | None = None,
    seed: int = DEFAULT_SEED,
    staffing: dict[str, str] | None = None,
    arrivals: dict[str, float] | None = None,
    answer_days: float = 15,
    grace: timedelta = timedelta(minutes=60),
    learning_days: int = 28,
    progress: Callable[[date], None] | None = None,
) -> History:
    """Play the working days of the ``days`` calendar days before ``now``'s day; commits.

    Does nothing (``skipped``) when the site already has tickets of earlier
    days. ``staffing``: counter name → e-mail of who serves there (default:
    the site's agents, then its managers, one per counter in order); counters
    nobody staffs stay closed and only the services of staffed ones get
    citizens. ``arrivals``: citizens per working day and service code (15 for a
    service it does not name). The
    counters must be closed (no agent holds them): they are closed again at the
    end of each day. Ends with the day summaries rolled up and the service
    times learned, as the scheduler's jobs would.
    """
    started = time.perf_counter()
    now = now or utcnow()
    today = service_day(site, now)
    result = History()
    if days <= 0 or has_history(session, site, today):
        result.skipped = True
        return result
    if any(c.state != CounterState.CLOSED or c.agent_id is not None for c in site.counters):
        # Someone is serving now: the past is played into a closed office only.
        result.skipped = True
        return result
    play = _Player(
        session,
        site,
        random.Random(seed),  # noqa: S311 (made-up history, not secrets)
        answer_days=answer_days,
        end=now,
        staffing=staffing,
        arrivals=arrivals,
    )
    for offset in range(days, 0, -1):
        day = today - timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        play.day(day)
        _commit_quietly(session)
        result.days += 1
        if progress is not None:
            progress(day)
    play.complaints()
    _commit_quietly(session)

    roll_up(session, site, grace=grace, now=now)
    learn_site(session, site, days=learning_days, now=now)
    session.commit()
    result.tickets = play.tickets
    result.served = play.served
    result.no_shows = play.no_shows
    result.cancelled = play.cancelled
    result.ratings = play.ratings
    result.complaints = play.filed
    result.seconds = time.perf_counter() - started
    return result


class _Player:
    """Plays one day at a time, its moments in the order of their times."""

    def __init__(
        self,
        session: Session,
        site: Site,
        rng: random.Random,
        *,
        answer_days: float,
        end: datetime,
        staffing: dict[str, str] | None,
        arrivals: dict[str, float] | None,
    ) -> None:
        self.session = session
        self.site = site
        self.rng = rng
        self.answer_days = answer_days
        self.end = end
        self.tz = zone(site.timezone)
        self.kiosk, self.tablet = _devices(session, site)
        # Who sits at which counter, every working day: one person per counter.
        people = _staffing(session, site, staffing)
        self.counters = [c for c in sorted(site.counters, key=lambda c: c.id) if c.id in people]
        self.staff = [people[c.id] for c in self.counters]
        # Who answers the complaints: a manager of the site, else an admin.
        answering = assignable_staff(session, site)
        self.manager = next((u for u in answering if u.role == Role.MANAGER), None) or next(
            iter(answering), None
        )
        self.serves = {c.id: {link.service_id for link in c.service_links} for c in self.counters}
        served_here = set().union(*self.serves.values()) if self.serves else set()
        # Citizens come for the services a staffed counter serves.
        self.services = [
            s
            for s in sorted(site.services, key=lambda s: s.id)
            if s.is_active and s.id in served_here
        ]
        self.arrivals = {**DAILY_ARRIVALS, **(arrivals or {})}
        self.tickets = self.served = self.no_shows = self.cancelled = 0
        self.ratings = self.filed = 0
        self._complaints: list[tuple[datetime, int]] = []

    # --- one day -------------------------------------------------------------

    def at(self, day: date, minutes: float) -> datetime:
        local = datetime(day.year, day.month, day.day, tzinfo=self.tz) + timedelta(minutes=minutes)
        return local.astimezone(UTC)

    def day(self, day: date) -> None:
        session, rng = self.session, self.rng
        heap: list[tuple[datetime, int, str, Any]] = []
        order = itertools.count()

        def push(when: datetime, kind: str, payload: Any = None) -> None:
            heapq.heappush(heap, (when, next(order), kind, payload))

        for when, service in self._arrivals(day):
            push(when, "arrive", service)
        counters = list(zip(self.counters, self.staff, strict=False))
        for index in range(len(counters)):
            push(self.at(day, COUNTERS_OPEN[0] + rng.uniform(-5, 12)), "open", index)
        arrivals_end = (self.at(day, MORNING[1]), self.at(day, AFTERNOON[1]))
        afternoon = self.at(day, COUNTERS_OPEN[1])
        for end in arrivals_end:
            push(end + timedelta(seconds=1), "sweep")
        idle: set[int] = set()
        waiting: dict[int, int] = dict.fromkeys((s.id for s in self.services), 0)
        tickets: dict[int, Ticket] = {}

        while heap:
            when, _n, kind, payload = heapq.heappop(heap)
            if kind == "arrive":
                issued = self._issue(payload, when)
                waiting[payload.id] += 1
                if rng.random() < IMPATIENT:
                    # Leaves if not called within the hour or so (cancels on the tracking page).
                    patience = timedelta(minutes=rng.uniform(30, 90))
                    push(when + patience, "give_up", issued)
                waiting_for = [
                    i for i in sorted(idle) if payload.id in self.serves[counters[i][0].id]
                ]
                if waiting_for:
                    index = rng.choice(waiting_for)
                    idle.discard(index)
                    push(when + timedelta(seconds=rng.uniform(5, 40)), "free", index)
            elif kind == "open":
                counter, user = counters[payload]
                open_counter(session, counter, user, now=when)
                push(when, "free", payload)
            elif kind == "free":
                counter, user = counters[payload]
                # The agent calls when the screen shows someone waiting for this counter.
                ticket = None
                if any(waiting.get(s) for s in self.serves[counter.id]):
                    ticket = call_next(session, counter, actor=Actor(user=user), now=when)
                if ticket is not None:
                    waiting[ticket.service_id] -= 1
                    tickets[ticket.id] = ticket
                    if rng.random() < NO_SHOW:
                        push(when + timedelta(minutes=rng.uniform(1.5, 3)), "recall", ticket.id)
                    else:
                        walk = timedelta(seconds=rng.uniform(20, 100))
                        push(when + walk, "start", ticket.id)
                    continue
                if when < arrivals_end[0] or afternoon <= when < arrivals_end[1]:
                    idle.add(payload)  # until a citizen of its services arrives
                elif when < afternoon:
                    # The morning queue is empty: lunch until the afternoon.
                    pause_counter(session, counter, "Pause déjeuner", now=when)
                    reopen = self.at(day, COUNTERS_OPEN[1] + rng.uniform(-3, 10))
                    push(max(reopen, when), "open", payload)
                else:
                    close_counter(session, counter, now=when)
            elif kind == "sweep":
                # No more arrivals in this half-day: idle counters pause or close.
                for index in sorted(idle):
                    push(when, "free", index)
                idle.clear()
            elif kind == "start":
                ticket = tickets[payload]
                start(session, ticket, actor=self._actor(ticket.agent_id), now=when)
                minutes = self._service_minutes(ticket)
                push(when + timedelta(minutes=minutes), "finish", ticket.id)
            elif kind == "finish":
                ticket = tickets.pop(payload)
                finish(session, ticket, actor=self._actor(ticket.agent_id), now=when)
                self.served += 1
                self._maybe_rate(ticket, when, push)
                index = self._counter_index(counters, ticket.counter_id)
                push(when + timedelta(seconds=rng.uniform(10, 60)), "free", index)
            elif kind == "recall":
                ticket = tickets[payload]
                recall(session, ticket, actor=self._actor(ticket.agent_id), now=when)
                push(when + timedelta(minutes=rng.uniform(1.5, 3)), "no_show", ticket.id)
            elif kind == "no_show":
                ticket = tickets.pop(payload)
                mark_no_show(session, ticket, actor=self._actor(ticket.agent_id), now=when)
                self.no_shows += 1
                index = self._counter_index(counters, ticket.counter_id)
                push(when + timedelta(seconds=rng.uniform(5, 30)), "free", index)
            elif kind == "give_up":
                if payload.status == TicketStatus.WAITING:
                    cancel(session, payload, actor=Actor(), now=when)
                    waiting[payload.service_id] -= 1
                    self.cancelled += 1
            elif kind == "rate":
                rated, waited_long, at_tablet = payload
                self._rate(rated, waited_long, at_tablet, when)
        if rng.random() < COMPLAINTS_PER_DAY * WEEKDAY_FACTOR[day.weekday()]:
            self._file_complaint(self.at(day, rng.uniform(MORNING[0] + 30, AFTERNOON[1] + 15)))

    def _arrivals(self, day: date) -> list[tuple[datetime, Any]]:
        rng = self.rng
        factor = WEEKDAY_FACTOR[day.weekday()]
        hours = dict(HOUR_WEIGHTS)
        if day.weekday() == 4:
            hours = {h: w * (FRIDAY_AFTERNOON if h >= 14 else 1) for h, w in hours.items()}
        found = []
        for service in self.services:
            mean = self.arrivals.get(service.code, OTHER_DAILY) * factor
            mean *= rng.uniform(0.85, 1.15)  # some days are busier than others
            for _ in range(_poisson(rng, mean)):
                hour = rng.choices(list(hours), weights=list(hours.values()))[0]
                low, high = hour * 60, hour * 60 + 60
                window = MORNING if hour < 13 else AFTERNOON
                low, high = max(low, window[0]), min(high, window[1])
                found.append((self.at(day, rng.uniform(low, high)), service))
        found.sort(key=lambda item: item[0])
        return found

    def _issue(self, service: Any, when: datetime) -> Ticket:
        issued = issue_ticket(
            self.session,
            self.site,
            service,
            actor=Actor(device=self.kiosk),
            source=TicketSource.KIOSK,
            priority=self.rng.random() < PRIORITY,
            now=when,
        )
        self.tickets += 1
        return issued.ticket

    def _service_minutes(self, ticket: Ticket) -> float:
        mean = float(ticket.service.avg_service_seconds or 300) / 60
        sigma = 0.45
        # A log-normal time around the service's usual duration.
        return max(1.0, self.rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma))

    def _actor(self, user_id: int | None) -> Actor:
        user = next((u for u in self.staff if u.id == user_id), None)
        return Actor(user=user)

    @staticmethod
    def _counter_index(counters: list[tuple[Counter, User]], counter_id: int | None) -> int:
        return next(i for i, (c, _u) in enumerate(counters) if c.id == counter_id)

    # --- ratings and complaints ---------------------------------------------

    def _maybe_rate(self, ticket: Ticket, when: datetime, push: Callable[..., None]) -> None:
        rng = self.rng
        waited = (ticket.first_called_at or when) - ticket.issued_at
        target = timedelta(minutes=ticket.service.target_wait_minutes or 20)
        at_tablet = self.tablet is not None and ticket.counter_id == self._tablet_counter()
        long = waited > target
        if at_tablet and rng.random() < TABLET_RATES:
            push(when + timedelta(seconds=rng.uniform(5, 60)), "rate", (ticket, long, True))
        elif rng.random() < WEB_RATES:
            push(when + timedelta(minutes=rng.uniform(5, 180)), "rate", (ticket, long, False))

    def _tablet_counter(self) -> int | None:
        # The demo's tablet stands at the first counter (its name says which).
        return self.counters[0].id if self.counters else None

    def _rate(self, ticket: Ticket, waited_long: bool, at_tablet: bool, when: datetime) -> None:
        rng = self.rng
        weights = [6, 8, 18, 38, 30] if waited_long else [1, 2, 6, 31, 60]
        rating = rng.choices([1, 2, 3, 4, 5], weights=weights)[0]
        comment = None
        if rng.random() < COMMENT:
            comment = rng.choice(COMMENTS_GOOD if rating >= 4 else COMMENTS_BAD)
        record_feedback(
            self.session,
            ticket,
            rating=rating,
            comment=comment,
            source=FeedbackSource.TABLET if at_tablet else FeedbackSource.WEB,
            window=timedelta(days=2),
            device=self.tablet if at_tablet else None,
            now=when,
        )
        self.ratings += 1

    def _file_complaint(self, when: datetime) -> None:
        rng = self.rng
        kind, text = rng.choice(COMPLAINTS)
        service = rng.choice(self.services) if rng.random() < 0.7 else None
        complaint = submit_complaint(
            self.session,
            self.site,
            kind=kind,
            text=text,
            answer_days=self.answer_days,
            service=service,
            now=when,
        )
        self.filed += 1
        # Most are answered within the office's deadline (some the same day), a few late.
        delay = rng.choice([0.1, 0.2, 0.9, 1, 2, 3, 5, 8, 12, 19])
        answered = when + timedelta(days=delay, hours=rng.uniform(0, 2))
        self._complaints.append((answered, complaint.id))

    def complaints(self) -> None:
        """The manager answers the complaints whose answer time has come before ``end``."""
        if self.manager is None:
            return
        for when, complaint_id in sorted(self._complaints):
            if when >= self.end:
                continue
            complaint = self.session.get(Complaint, complaint_id)
            if complaint is None:
                continue
            assign(self.session, complaint, self.manager)
            answer(
                self.session,
                complaint,
                self.rng.choice(ANSWERS),
                by=self.manager,
                send_sms=False,
                now=when,
            )
            if when + timedelta(days=3) < self.end:
                close(self.session, complaint, now=when + timedelta(days=3))


def _commit_quietly(session: Session) -> None:
    """Commit a past day without its realtime pushes: no screen shows the past."""
    from ..realtime import events

    for key in (events.PENDING_KEY, events.CHANGED_KEY):
        session.info.pop(key, None)
    session.commit()


def _devices(session: Session, site: Site) -> tuple[Device | None, Device | None]:
    """The site's kiosk (issues the tickets) and tablet (first counter's ratings)."""
    devices = session.scalars(
        select(Device)
        .where(Device.site_id == site.id, Device.revoked_at.is_(None))
        .order_by(Device.id)
    ).all()
    kiosk = next((d for d in devices if d.kind == DeviceKind.KIOSK), None)
    tablet = next((d for d in devices if d.kind == DeviceKind.TABLET), None)
    return kiosk, tablet


def _site_staff(session: Session, site: Site) -> list[User]:
    """The site's active agents, then its managers."""
    users = session.scalars(select(User).where(User.is_active.is_(True)).order_by(User.id)).all()
    rank = {Role.AGENT: 0, Role.MANAGER: 1}
    mine = [u for u in users if u.role in rank and any(s.id == site.id for s in u.sites)]
    return sorted(mine, key=lambda u: rank[u.role])


def _staffing(session: Session, site: Site, staffing: dict[str, str] | None) -> dict[int, User]:
    """Counter id → who serves there."""
    counters = sorted(site.counters, key=lambda c: c.id)
    if staffing is None:
        return {c.id: u for c, u in zip(counters, _site_staff(session, site), strict=False)}
    by_name = {c.name: c for c in counters}
    people: dict[int, User] = {}
    for name, email in staffing.items():
        user = session.scalar(select(User).where(User.email == email))
        if name in by_name and user is not None and user.is_active:
            people[by_name[name].id] = user
    return people


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method, fine for the tens of a day)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
