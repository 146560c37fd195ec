"""Sequences of queue operations on the database give the answers of a plain in-memory model.

A Hypothesis state machine issues, calls, recalls, starts, finishes, marks
no-shows, cancels, transfers, checks appointments in and closes days, through
the domain's operations, one transaction each as the views do, and through the
model of tests/queue_model.py; every answer (labels, numbers, positions,
estimates, statuses, the ticket called) and, after every step, the whole state
(each ticket's status and service, every waiting ticket's position and
estimate, the waiting counts) must agree. On SQLite, on PostgreSQL, and on
PostgreSQL with each operation sent by one of two engines (two server
processes).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from queue_app import create_app
from queue_app.extensions import db
from queue_app.models import (
    Appointment,
    AppointmentStatus,
    Counter,
    Service,
    Site,
    Ticket,
    TicketSource,
    User,
)
from queue_app.queue import (
    SYSTEM,
    Actor,
    call_next,
    cancel,
    errors,
    finish,
    get_ticket,
    issue_ticket,
    mark_no_show,
    open_counter,
    recall,
    start,
    transfer,
)
from queue_app.queue.booking import BookingRules, check_in
from queue_app.queue.calling import lock_counter
from queue_app.queue.day_close import close_day
from queue_app.queue.days import service_day
from queue_app.queue.estimates import position_and_wait, waiting_counts
from queue_app.realtime import events

from .conftest import base_config, build_office, dispose, truncate_all
from .queue_model import ModelCounter, ModelService, Queue, Refused, next_morning

# Porto-Novo is UTC+1 all year: a site whose day is not the UTC day (invariant 5).
ZONE = "Africa/Porto-Novo"
OFFSET = timedelta(hours=1)
MONDAY_MORNING = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)  # 08:30 in Porto-Novo
RULES = BookingRules()
COUNTERS = {"g1": "agent", "g2": "agent2", "g3": "manager"}

SETTINGS = settings(
    max_examples=12,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


class QueueMachine(RuleBasedStateMachine):
    """Set ``apps`` (one app, or two on the same PostgreSQL database) before running."""

    apps: list[Flask] = []
    # Truncate the tables before each run (PostgreSQL); SQLite gets a fresh copy instead.
    reset: Any = None

    tickets = Bundle("tickets")

    def __init__(self) -> None:
        super().__init__()
        self.turn = itertools.cycle(self.apps)
        self.now = MONDAY_MORNING
        self.appointments: dict[int, datetime] = {}

    def app(self) -> Flask:
        """The server process that takes the next operation (alternating when two)."""
        return next(self.turn)

    @initialize(target=tickets)
    def office(self) -> Any:
        type(self).reset()
        office = build_office(self.apps[0], timezone=ZONE)
        self.ids = {
            "site": office.site.id,
            "services": {code: s.id for code, s in office.services.items()},
            "counters": {name: c.id for name, c in office.counters.items()},
            "users": {name: u.id for name, u in office.users.items()},
        }
        self.model = Queue(
            services={
                "CASIER": ModelService("CASIER", "A", 6 * 60),
                "CNI": ModelService("CNI", "B", 8 * 60),
            },
            counters={
                "g1": ModelCounter("g1", {"CASIER": 1, "CNI": 1}),
                "g2": ModelCounter("g2", {"CNI": 1}),
                "g3": ModelCounter("g3", {"CASIER": 1}),
            },
        )
        self._open_counters()
        # Appointments booked for today's mornings, to be checked in.
        with self.apps[0].app_context():
            site = db.session.get(Site, self.ids["site"])
            for n, minutes in enumerate((30, 45, 60, 90, 120, 180)):
                slot = MONDAY_MORNING + timedelta(minutes=minutes)
                code = "CNI" if n % 2 else "CASIER"
                appointment = Appointment(
                    site_id=site.id,
                    service_id=self.ids["services"][code],
                    reference=f"RDV{n:04d}",
                    slot_start=slot,
                    slot_end=slot + timedelta(minutes=15),
                    service_day=service_day(site, slot),
                    status=AppointmentStatus.BOOKED,
                    phone=None,
                )
                db.session.add(appointment)
                db.session.flush()
                self.appointments[appointment.id] = slot
            db.session.commit()
        return multiple()

    def _open_counters(self) -> None:
        with self.app().app_context():
            for name, who in COUNTERS.items():
                counter = db.session.get(Counter, self.ids["counters"][name])
                agent = db.session.get(User, self.ids["users"][who])
                open_counter(db.session, counter, agent, now=self.now)
                self.model.counters[name].open = True
            db.session.commit()

    def _day(self) -> Any:
        return (self.now + OFFSET).date()

    # --- the operations ------------------------------------------------------------------

    @rule(seconds=st.integers(min_value=0, max_value=600))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule(
        target=tickets,
        service=st.sampled_from(["CASIER", "CNI"]),
        priority=st.booleans(),
    )
    def issue(self, service: str, priority: bool) -> Any:
        with self.app().app_context():
            site = db.session.get(Site, self.ids["site"])
            chosen = db.session.get(Service, self.ids["services"][service])
            issued = issue_ticket(
                db.session,
                site,
                chosen,
                actor=SYSTEM,
                source=TicketSource.KIOSK,
                priority=priority,
                enforce_hours=False,
                now=self.now,
            )
            db.session.commit()
            answer = (
                issued.ticket.id,
                issued.ticket.label,
                issued.position,
                issued.estimated_wait_minutes,
            )
        expected = self.model.issue(answer[0], service, self._day(), self.now, priority=priority)
        assert answer[1:] == (
            expected.label,
            self.model.position(expected, self.now),
            self.model.estimate(expected, self.now),
        ), (answer, expected)
        return answer[0]

    @rule(target=tickets, data=st.data())
    def check_in(self, data: st.DataObject) -> Any:
        booked = [a for a, slot in self.appointments.items() if slot is not None]
        if not booked:
            return multiple()
        appointment_id = data.draw(st.sampled_from(sorted(booked)))
        slot = self.appointments[appointment_id]
        refusal: errors.DomainError | None = None
        with self.app().app_context():
            appointment = db.session.get(Appointment, appointment_id)
            try:
                issued = check_in(db.session, appointment, actor=SYSTEM, now=self.now, rules=RULES)
            except errors.DomainError as error:
                db.session.rollback()
                refusal = error
            else:
                db.session.commit()
                answer = (issued.ticket.id, issued.ticket.label, issued.position)
                cni = self.ids["services"]["CNI"]
                code = "CNI" if issued.ticket.service_id == cni else "CASIER"
        if refusal is not None:
            # Before its window opens, or after it closed.
            assert not (slot - RULES.check_in_early <= self.now <= slot + RULES.check_in_late)
            assert refusal.code in ("too_early", "too_late"), refusal.code
            if refusal.code == "too_late":
                self.appointments[appointment_id] = None  # type: ignore[assignment]
            return multiple()
        self.appointments[appointment_id] = None  # type: ignore[assignment]
        expected = self.model.issue(
            answer[0], code, self._day(), self.now, due_at=slot - RULES.call_ahead
        )
        assert answer[1:] == (expected.label, self.model.position(expected, self.now))
        return answer[0]

    @rule(counter=st.sampled_from(sorted(COUNTERS)))
    def call(self, counter: str) -> None:
        with self.app().app_context():
            row = lock_counter(db.session, self.ids["counters"][counter])
            who = db.session.get(User, self.ids["users"][COUNTERS[counter]])
            try:
                called = call_next(
                    db.session, row, actor=Actor(user=who), now=self.now, locked=True
                )
            except errors.CounterNotOpen:
                db.session.rollback()
                with pytest.raises(Refused):
                    self.model.call_next(counter, self._day(), self.now)
                return
            db.session.commit()
            answer = None if called is None else called.label
        expected = self.model.call_next(counter, self._day(), self.now)
        assert answer == (None if expected is None else expected.label), (answer, expected)

    def _change(self, ticket_id: int, operation: Any, modelled: Any, *args: Any) -> None:
        ticket = self.model.tickets[ticket_id]
        refusal: errors.DomainError | None = None
        with self.app().app_context():
            row = get_ticket(db.session, ticket_id, lock=True)
            try:
                operation(db.session, row, *args, actor=SYSTEM, now=self.now)
            except (errors.InvalidTransition, errors.ServiceInactive) as error:
                db.session.rollback()
                refusal = error
            else:
                db.session.commit()
        if refusal is None:
            modelled(ticket)
            return
        with pytest.raises(Refused) as expected:
            modelled(ticket)
        assert refusal.code == expected.value.args[0]

    @rule(ticket=tickets)
    def recall(self, ticket: int) -> None:
        self._change(ticket, recall, self.model.recall)

    @rule(ticket=tickets)
    def start(self, ticket: int) -> None:
        self._change(ticket, start, self.model.start)

    @rule(ticket=tickets)
    def finish(self, ticket: int) -> None:
        self._change(ticket, finish, self.model.finish)

    @rule(ticket=tickets)
    def no_show(self, ticket: int) -> None:
        self._change(ticket, mark_no_show, self.model.no_show)

    @rule(ticket=consumes(tickets))
    def cancel(self, ticket: int) -> None:
        self._change(ticket, cancel, self.model.cancel)

    @rule(ticket=tickets, service=st.sampled_from(["CASIER", "CNI"]))
    def transfer(self, ticket: int, service: str) -> None:
        def domain(session: Any, row: Ticket, **kwargs: Any) -> Any:
            target = session.get(Service, self.ids["services"][service])
            return transfer(session, row, target, **kwargs)

        self._change(ticket, domain, lambda t: self.model.transfer(t, service))

    @rule()
    def next_day(self) -> None:
        self.now = next_morning(self.now, OFFSET)
        with self.app().app_context():
            site = db.session.get(Site, self.ids["site"])
            close_day(db.session, site, grace=timedelta(0), now=self.now)
            db.session.commit()
        self.model.close_day(self._day())
        self._open_counters()

    # --- what must hold after every step ---------------------------------------------------

    @invariant()
    def the_database_tells_what_the_model_tells(self) -> None:
        if not hasattr(self, "model"):
            return
        with self.app().app_context():
            site = db.session.get(Site, self.ids["site"])
            codes = {sid: code for code, sid in self.ids["services"].items()}
            stored = {t.id: t for t in db.session.query(Ticket).all()}
            assert set(stored) == set(self.model.tickets)
            for ticket_id, expected in self.model.tickets.items():
                ticket = stored[ticket_id]
                assert (ticket.label, ticket.status.value, codes[ticket.service_id]) == (
                    expected.label,
                    expected.status,
                    expected.service,
                ), ticket_id
                told = position_and_wait(db.session, ticket, now=self.now)
                assert told == (
                    self.model.position(expected, self.now),
                    self.model.estimate(expected, self.now),
                ), (ticket.label, told)
            assert waiting_counts(db.session, site, self._day()) == self.model.waiting_counts(
                self._day()
            )
            db.session.rollback()


def _run(apps: list[Flask], reset: Any) -> None:
    for app in apps:
        # Pushes are not what is compared here; a publisher reading while the
        # tables are truncated between runs would deadlock with the truncation.
        app.extensions[events.PUBLISHER_KEY].stop()
        app.extensions["queue_app.print_worker"].stop()
    QueueMachine.apps = apps
    QueueMachine.reset = staticmethod(reset)
    try:
        run_state_machine_as_test(QueueMachine, settings=SETTINGS)
    finally:
        QueueMachine.apps = []


def test_sequences_on_sqlite_tell_what_the_model_tells(tmp_path: Path, sqlite_template: Path):
    import shutil

    path = tmp_path / "model.db"

    def reset() -> None:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copy(sqlite_template, path)

    shutil.copy(sqlite_template, path)
    app = create_app(base_config(tmp_path, f"sqlite:///{path}"))
    try:
        _run([app], reset)
    finally:
        dispose(app)


@pytest.mark.postgres
def test_sequences_on_postgresql_tell_what_the_model_tells(pg_app: Flask):
    _run([pg_app], lambda: truncate_all(pg_app))


@pytest.mark.postgres
def test_sequences_sent_by_two_engines_tell_what_the_model_tells(
    pg_app: Flask, postgres_url: str, tmp_path: Path
):
    other = create_app(base_config(tmp_path / "other", postgres_url))
    try:
        _run([pg_app, other], lambda: truncate_all(pg_app))
    finally:
        dispose(other)
