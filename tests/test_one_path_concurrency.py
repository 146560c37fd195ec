"""What citizens and agents are told holds with two server processes at once (PostgreSQL).

Each test uses two engines on one database, as two gunicorn processes do: what a
newcomer is told counts every ticket committed before its number, a service's
tickets are called in the order of their numbers, and an agent's call never
waits for a colleague's transaction on the same service.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from queue_app import create_app
from queue_app.extensions import db
from queue_app.models import (
    Appointment,
    Counter,
    EventKind,
    Service,
    Site,
    SlotBooking,
    Ticket,
    TicketEvent,
    TicketSource,
    TicketStatus,
    User,
)
from queue_app.queue import SYSTEM, Actor, call_next, issue_ticket, open_counter, transfer
from queue_app.queue.booking import AlreadyBooked, book
from queue_app.queue.calling import lock_counter
from queue_app.queue.sites import set_hours
from queue_app.queue.tickets import get_ticket

from .conftest import Office, base_config, build_office, dispose

pytestmark = pytest.mark.postgres

# How long a request may take at most here: far above any answer, far below a test timeout.
PATIENCE = 20.0


@pytest.fixture
def second_process(pg_app: Flask, postgres_url: str, tmp_path: Path) -> Iterator[Flask]:
    """Another app on the same database: its own engine and pool, as another process has."""
    other = create_app(base_config(tmp_path / "second", postgres_url))
    yield other
    dispose(other)


def _issue(app: Flask, office: Office, code: str = "CNI") -> dict[str, Any]:
    with app.app_context():
        site = db.session.get(Site, office.site.id)
        service = db.session.get(Service, office.services[code].id)
        issued = issue_ticket(db.session, site, service, actor=SYSTEM, source=TicketSource.KIOSK)
        db.session.commit()
        return {
            "id": issued.ticket.id,
            "number": issued.ticket.number,
            "position": issued.position,
            "wait": issued.estimated_wait_minutes,
        }


def _open(app: Flask, office: Office, counter: str, who: str) -> None:
    with app.app_context():
        open_counter(
            db.session,
            db.session.get(Counter, office.counters[counter].id),
            db.session.get(User, office.users[who].id),
        )
        db.session.commit()


def _call(app: Flask, office: Office, counter: str, who: str) -> str | None:
    with app.app_context():
        row = lock_counter(db.session, office.counters[counter].id)
        agent = db.session.get(User, office.users[who].id)
        called = call_next(db.session, row, actor=Actor(user=agent), locked=True)
        db.session.commit()
        return None if called is None else called.label


def test_two_processes_issuing_at_once_tell_every_citizen_the_exact_count(
    pg_app: Flask, second_process: Flask
):
    office = build_office(pg_app)
    apps = [pg_app, second_process]
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda n: _issue(apps[n % 2], office), range(200)))
    # Nothing was called: everyone issued before a ticket's number waits ahead of it.
    assert sorted(a["number"] for a in answers) == list(range(1, 201))
    wrong = [a for a in answers if a["position"] != a["number"] - 1]
    assert wrong == [], wrong[:5]
    # The estimate the dashboard compares with the real wait is the one told.
    with pg_app.app_context():
        logged = dict(
            db.session.execute(
                select(TicketEvent.ticket_id, TicketEvent.data).where(
                    TicketEvent.kind == EventKind.ISSUED
                )
            ).all()
        )
    assert all(logged[a["id"]]["estimate"] == a["wait"] for a in answers)


def test_tickets_issued_by_two_processes_are_called_in_the_order_of_their_numbers(
    pg_app: Flask, second_process: Flask
):
    office = build_office(pg_app)
    apps = [pg_app, second_process]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda n: _issue(apps[n % 2], office), range(120)))
    _open(pg_app, office, "g2", "agent2")
    called = [_call(apps[n % 2], office, "g2", "agent2") for n in range(120)]
    assert called == [f"B-{n:03d}" for n in range(1, 121)]
    assert _call(pg_app, office, "g2", "agent2") is None


def test_a_colleague_calls_while_an_agents_transaction_holds_the_head(
    pg_app: Flask, second_process: Flask
):
    office = build_office(pg_app)
    for _ in range(3):
        _issue(pg_app, office)
    _open(pg_app, office, "g1", "agent")
    _open(pg_app, office, "g2", "agent2")
    held = threading.Event()
    release = threading.Event()
    first: dict[str, Any] = {}

    def agent_at_g1() -> None:
        # Calls B-001 and keeps its transaction open (a slow request, a stalled process).
        with pg_app.app_context():
            row = lock_counter(db.session, office.counters["g1"].id)
            agent = db.session.get(User, office.users["agent"].id)
            first["label"] = call_next(db.session, row, actor=Actor(user=agent), locked=True).label
            held.set()
            release.wait(PATIENCE)
            db.session.commit()

    holder = threading.Thread(target=agent_at_g1)
    holder.start()
    try:
        assert held.wait(PATIENCE)
        # The colleague's call, in the other process, on the same service: answered
        # while the first transaction is still open, with the next ticket.
        with ThreadPoolExecutor(max_workers=1) as pool:
            colleague = pool.submit(_call, second_process, office, "g2", "agent2")
            label = colleague.result(timeout=PATIENCE)
            assert not release.is_set()
    finally:
        release.set()
        holder.join(PATIENCE)
    assert (first["label"], label) == ("B-001", "B-002")


def test_a_colleague_calls_while_another_transaction_changes_a_waiting_ticket(
    pg_app: Flask, second_process: Flask
):
    """A transfer into the service (a waiting ticket changed) holds nothing a call needs."""
    office = build_office(pg_app)
    casier = _issue(pg_app, office, "CASIER")
    _issue(pg_app, office, "CNI")
    _open(pg_app, office, "g2", "agent2")
    held = threading.Event()
    release = threading.Event()

    def transferring() -> None:
        with pg_app.app_context():
            ticket = get_ticket(db.session, casier["id"], lock=True)
            cni = db.session.get(Service, office.services["CNI"].id)
            transfer(db.session, ticket, cni, actor=SYSTEM)
            db.session.flush()
            held.set()
            release.wait(PATIENCE)
            db.session.commit()

    holder = threading.Thread(target=transferring)
    holder.start()
    try:
        assert held.wait(PATIENCE)
        with ThreadPoolExecutor(max_workers=1) as pool:
            label = pool.submit(_call, second_process, office, "g2", "agent2").result(PATIENCE)
            assert not release.is_set()
    finally:
        release.set()
        holder.join(PATIENCE)
    assert label == "B-001"


def test_crossed_transfers_both_finish(pg_app: Flask, second_process: Flask):
    office = build_office(pg_app)
    to_cni = _issue(pg_app, office, "CASIER")
    to_casier = _issue(pg_app, office, "CNI")
    held = threading.Event()
    release = threading.Event()

    def move(app: Flask, ticket_id: int, code: str) -> None:
        with app.app_context():
            ticket = get_ticket(db.session, ticket_id, lock=True)
            target = db.session.get(Service, office.services[code].id)
            transfer(db.session, ticket, target, actor=SYSTEM)
            db.session.flush()
            if app is pg_app:
                held.set()
                release.wait(PATIENCE)
            db.session.commit()

    first = threading.Thread(target=move, args=(pg_app, to_cni["id"], "CNI"))
    first.start()
    try:
        assert held.wait(PATIENCE)
        with ThreadPoolExecutor(max_workers=1) as pool:
            # S2 → S1 while S1 → S2 is still open: neither waits for the other.
            pool.submit(move, second_process, to_casier["id"], "CASIER").result(PATIENCE)
            assert not release.is_set()
    finally:
        release.set()
        first.join(PATIENCE)
    with pg_app.app_context():
        services = dict(
            db.session.execute(
                select(Ticket.id, Ticket.service_id).where(Ticket.status == TicketStatus.WAITING)
            ).all()
        )
    assert services == {
        to_cni["id"]: office.services["CNI"].id,
        to_casier["id"]: office.services["CASIER"].id,
    }


def test_one_phone_booking_twice_at_once_from_two_processes_gets_one_appointment(
    pg_app: Flask, second_process: Flask
):
    """One appointment per phone, service and day is held by the database itself.

    The first process books and keeps its transaction open; the second books the
    same phone at another time of that day. It waits for the first to commit, is
    refused (already booked), and the place it had taken goes back to its slot.
    """
    office = build_office(pg_app)
    # Tuesday 24 November 2026 in Thiès (UTC), booked the day before.
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    nine, ten = (datetime(2026, 11, 24, hour, 0, tzinfo=UTC) for hour in (9, 10))
    with pg_app.app_context():
        service = db.session.get(Service, office.services["CNI"].id)
        service.booking_enabled = True
        service.slot_minutes = 30
        service.slot_capacity = 2
        set_hours(
            db.session, db.session.get(Site, office.site.id), {"tuesday": [["08:00", "17:00"]]}
        )
        db.session.commit()
    phone = "+221771234567"
    booked = threading.Event()
    release = threading.Event()

    def _book(app: Flask, start: datetime, hold: bool = False) -> str:
        with app.app_context():
            site = db.session.get(Site, office.site.id)
            cni = db.session.get(Service, office.services["CNI"].id)
            try:
                appointment = book(db.session, site, cni, start, phone=phone, now=now)
                reference = appointment.reference
            except AlreadyBooked:
                db.session.rollback()
                return "already_booked"
            if hold:
                booked.set()
                release.wait(PATIENCE)
            db.session.commit()
            return reference

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(_book, pg_app, nine, True)
        assert booked.wait(PATIENCE), first.exception(timeout=PATIENCE)
        second = pool.submit(_book, second_process, ten)
        # The second waits on the first's row, not on a read that saw nothing yet.
        with pytest.raises(TimeoutError):
            second.result(timeout=0.5)
        release.set()
        assert first.result(timeout=PATIENCE) != "already_booked"
        assert second.result(timeout=PATIENCE) == "already_booked"
    with pg_app.app_context():
        appointments = db.session.scalars(select(Appointment).where(Appointment.phone == phone))
        assert [a.slot_start for a in appointments] == [nine]
        places = {
            row.slot_start: row.booked
            for row in db.session.execute(select(SlotBooking.slot_start, SlotBooking.booked))
        }
        assert places.get(ten, 0) == 0
        assert places[nine] == 1
