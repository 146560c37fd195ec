"""Locks that hold.

(a) Reads never take the SQLite writer lock: board and ticket reads, Socket.IO
    connect and sync, and a sign-in's password check go on while another
    transaction writes.
(b) The day close locks the counters it closes.
(c) Call-next locks only the ticket it calls: a concurrent agent never skips a
    head that nobody calls, and no ticket is called twice.
(d) The SQLite writer lock is handed on at commit, before the pushes that follow,
    and a writer that cannot get it in time is answered 503 with Retry-After.
(e) Labels grow past three digits.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import func, insert, select, text, update

from queue_app.extensions import db, socketio
from queue_app.infra.database import WriteInReadOnlyTransaction, read_only, writable
from queue_app.models import (
    Counter,
    CounterState,
    EventKind,
    Role,
    Service,
    Site,
    Ticket,
    TicketEvent,
    TicketSequence,
    TicketSource,
    TicketStatus,
    User,
)
from queue_app.queue import (
    SYSTEM,
    Actor,
    call_next,
    close_day,
    issue_ticket,
    open_counter,
)
from queue_app.queue import accounts as accounts_module
from queue_app.queue.accounts import create_user
from queue_app.queue.days import service_day
from queue_app.queue.sites import create_counter
from queue_app.realtime import events, publish

from .conftest import PASSWORD, Api, Office, build_office, count_statements

WAIT = 5.0  # upper bound for a read that does not wait; never a pause


# --- (a) reads never wait for the writer -------------------------------------------------


@contextmanager
def writer_held(application: Flask) -> Iterator[None]:
    """Another thread is in the middle of a write transaction until the block ends."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with application.app_context():
            # A write transaction: the process's writer lock and SQLite's write lock.
            db.session.execute(update(Site).values(name=Site.name))
            holding.set()
            release.wait(60)
            db.session.rollback()

    holder = threading.Thread(target=hold, name="writer", daemon=True)
    holder.start()
    assert holding.wait(WAIT), "the writer did not start"
    try:
        yield
    finally:
        release.set()
        holder.join(WAIT)


def without_waiting(work: Callable[[], Any]) -> Any:
    """Run ``work`` in a thread; fail when it does not finish within WAIT seconds."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread
            outcome["error"] = error

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(WAIT)
    assert not worker.is_alive(), "the read waited for the writer"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def web_login(application: Flask, email: str) -> Any:
    client = application.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert csrf
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf.group(1)}
    )
    assert response.status_code == 302
    return client


READS: dict[str, Callable[[Api, Office, dict[str, Any]], Any]] = {
    "board": lambda api, office, ticket: api.get(f"sites/{office.slug}/board", "display"),
    "ticket": lambda api, office, ticket: api.get(f"tickets/{ticket['id']}", "agent"),
    "ticket-by-kiosk": lambda api, office, ticket: api.get(f"tickets/{ticket['id']}", "kiosk"),
    "counter": lambda api, office, ticket: api.get(f"counters/{office.counters['g1'].id}", "agent"),
    "sites": lambda api, office, ticket: api.get("sites", "admin"),
    "track": lambda api, office, ticket: api.get(f"track/{ticket['code']}"),
    "tracking-page": lambda api, office, ticket: api.client.get(f"/t/{ticket['code']}"),
    "readyz": lambda api, office, ticket: api.client.get("/readyz"),
}


@pytest.mark.parametrize("read", list(READS))
def test_a_read_does_not_wait_for_a_writer(app, office, read):
    api = Api(app, office)
    ticket = api.issue("CNI")
    api.token("agent"), api.token("admin")  # signed in before the writer starts
    with writer_held(app):
        response = without_waiting(lambda: READS[read](api, office, ticket))
    assert response.status_code == 200


def test_the_console_page_does_not_wait_for_a_writer(app, office):
    browser = web_login(app, office.users["agent"].email)
    with writer_held(app):
        response = without_waiting(lambda: browser.get("/agent/"))
    assert response.status_code == 200


def test_socketio_connect_and_sync_do_not_wait_for_a_writer(app, office):
    api = Api(app, office)
    ticket = api.issue("CNI")
    agent_token = api.token("agent")

    def display() -> Any:
        client = socketio.test_client(app, auth={"token": office.tokens["display"]})
        assert client.is_connected()
        return client.emit("sync", callback=True)

    def agent() -> Any:
        client = socketio.test_client(app, auth={"token": agent_token})
        assert client.is_connected()
        return client.emit("sync", {"site": office.slug}, callback=True)

    def tracker() -> Any:
        client = socketio.test_client(app)
        return client.emit("track", {"code": ticket["code"]}, callback=True)

    with writer_held(app):
        assert without_waiting(display)["waiting"]["CNI"] == 1
        assert without_waiting(agent)["site"] == office.slug
        assert without_waiting(tracker)["position"] == 0


def test_the_state_publisher_does_not_wait_for_a_writer(app, office):
    api = Api(app, office)
    api.issue("CNI")
    publisher = app.extensions[events.PUBLISHER_KEY]
    publisher.publish_pending()
    with writer_held(app):
        publisher.mark(
            {(publish.QUEUE, office.site.id), (publish.POSITIONS, office.services["CNI"].id)}
        )
        assert without_waiting(publisher.publish_pending) == 2


@pytest.mark.parametrize("form", ["api", "web"])
def test_a_sign_in_checks_the_password_outside_the_write_lock(app, office, monkeypatch, form):
    checked = threading.Event()
    real_check = accounts_module.check_password_hash

    def check(stored: str, password: str) -> bool:
        result = real_check(stored, password)
        checked.set()
        return result

    monkeypatch.setattr(accounts_module, "check_password_hash", check)
    client = app.test_client()
    email = office.users["agent"].email
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").text)
    assert csrf

    def sign_in() -> Any:
        if form == "api":
            return client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
        return client.post(
            "/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf.group(1)}
        )

    answer: dict[str, Any] = {}
    request = threading.Thread(target=lambda: answer.update(response=sign_in()), daemon=True)
    with writer_held(app):
        request.start()
        assert checked.wait(WAIT), "the password check waited for the writer"
        # Recording the sign-in writes: that part waits its turn.
        assert request.is_alive()
    request.join(WAIT)
    assert answer["response"].status_code == (200 if form == "api" else 302)


def test_a_reading_transaction_refuses_to_write_on_sqlite(app, office):
    with app.app_context():
        with read_only():
            db.session.execute(select(Site.id)).all()
            with pytest.raises(WriteInReadOnlyTransaction):
                db.session.execute(update(Site).values(name="Renamed"))
        db.session.rollback()
        # A read that must record something asks for a write transaction of its own.
        with read_only():
            db.session.execute(select(Site.id)).all()
            with writable(db.session):
                db.session.execute(update(Site).values(name="Renamed"))
                db.session.commit()
        assert db.session.scalar(select(Site.name)) == "Renamed"


# --- (b) day close locks the counters it closes ------------------------------------------


def lock_waiters(application: Flask) -> int:
    """Sessions of the test database waiting for a row lock (PostgreSQL)."""
    with application.app_context(), db.engine.connect() as connection:
        return connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )


def wait_until(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.mark.postgres
def test_day_close_leaves_alone_a_counter_an_agent_is_reopening(pg_app):
    office = build_office(pg_app)
    yesterday = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    morning = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    counter_id, agent_id = office.counters["g2"].id, office.users["agent"].id
    with pg_app.app_context():
        open_counter(
            db.session,
            db.session.get(Counter, counter_id),
            db.session.get(User, agent_id),
            now=yesterday,
        )
        db.session.commit()
        # The agent comes back in the morning and takes the counter again...
        agent_session = db.session.session_factory()
        open_counter(
            agent_session,
            agent_session.get(Counter, counter_id),
            agent_session.get(User, agent_id),
            now=morning,
        )
        agent_session.flush()

        # ...while the day close finds yesterday's counter still open.
        def close() -> None:
            with pg_app.app_context():
                site = db.session.get(Site, office.site.id)
                close_day(db.session, site, grace=timedelta(minutes=60), now=morning)
                db.session.commit()

        closer = threading.Thread(target=close, daemon=True)
        closer.start()
        wait_until(lambda: not closer.is_alive() or lock_waiters(pg_app) > 0)
        agent_session.commit()
        agent_session.close()
        closer.join(WAIT)
        assert not closer.is_alive()
        counter = db.session.get(Counter, counter_id)
        db.session.refresh(counter)
        assert counter.state == CounterState.OPEN
        assert counter.agent_id == agent_id


# --- (c) call-next locks only the ticket it calls ----------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("second_serves", [["CNI"], ["CASIER", "CNI"]])
def test_a_call_in_progress_locks_only_the_ticket_it_calls(pg_app, second_serves):
    office = build_office(pg_app)
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # one business day, whatever the clock says
    called_at = t0 + timedelta(minutes=30)
    with pg_app.app_context():
        session = db.session
        site = session.get(Site, office.site.id)
        services = {code: session.get(Service, s.id) for code, s in office.services.items()}
        first_counter = session.get(Counter, office.counters["g1"].id)  # CASIER and CNI
        second_counter = create_counter(
            session, site, "Guichet 9", [(services[code], 1) for code in second_serves]
        )
        agent, agent2 = (session.get(User, office.users[n].id) for n in ("agent", "agent2"))
        open_counter(session, first_counter, agent)
        open_counter(session, second_counter, agent2)
        for minutes, code in ((0, "CASIER"), (5, "CNI"), (10, "CNI")):
            issue_ticket(
                session,
                site,
                services[code],
                actor=SYSTEM,
                source=TicketSource.STAFF,
                now=t0 + timedelta(minutes=minutes),
            )
        session.commit()
        ids = (first_counter.id, second_counter.id, agent.id, agent2.id)

        first, second = session.session_factory(), session.session_factory()
        try:
            called = call_next(
                first,
                first.get(Counter, ids[0]),
                actor=Actor(user=first.get(User, ids[2])),
                now=called_at,
            )
            assert called.label == "A-001"  # the longest wait
            # Before the first agent's call commits, the second agent's call gets the
            # head of CNI: nobody is calling it.
            other = call_next(
                second,
                second.get(Counter, ids[1]),
                actor=Actor(user=second.get(User, ids[3])),
                now=called_at,
            )
            assert other.label == "B-001"
            second.commit()
            first.commit()
        finally:
            first.close()
            second.close()


@pytest.mark.slow
def test_four_agents_over_two_services_call_each_ticket_once_in_queue_order(any_app):
    """4 agents with overlapping services, 300 tickets of two services.

    Each ticket is called exactly once, and a ticket is called before an earlier
    one of its service only while that earlier one was being called by another
    agent at the same moment (never because a head was skipped needlessly).
    """
    noon = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    with time_machine.travel(noon, tick=True):
        _four_agents(any_app, noon)


def _four_agents(application: Flask, noon: datetime) -> None:
    office = build_office(application)
    agents = ["agent", "agent2", "agent3", "agent4"]
    with application.app_context():
        session = db.session
        site = session.get(Site, office.site.id)
        casier = session.get(Service, office.services["CASIER"].id)
        cni = session.get(Service, office.services["CNI"].id)
        both = create_counter(session, site, "Guichet 4", [(casier, 1), (cni, 1)])
        for name in ("agent3", "agent4"):
            create_user(session, f"{name}@thies.sn", PASSWORD, Role.AGENT, sites=[site])
        start_at = noon - timedelta(minutes=30)
        for n in range(300):
            issue_ticket(
                session,
                site,
                (casier, cni)[n % 2],
                actor=SYSTEM,
                source=TicketSource.STAFF,
                now=start_at + timedelta(seconds=n),
            )
        session.commit()
        # g1: both services, g2: CNI, g3: CASIER, Guichet 4: both.
        counter_ids = [
            office.counters["g1"].id,
            office.counters["g2"].id,
            office.counters["g3"].id,
            both.id,
        ]
    api = Api(application, office)
    tokens = {}
    for name, counter_id in zip(agents, counter_ids, strict=True):
        email = office.users[name].email if name in office.users else f"{name}@thies.sn"
        tokens[name] = api.post(
            "auth/token", json={"email": email, "password": PASSWORD}
        ).get_json()["token"]
        assert api.post(f"counters/{counter_id}/open", tokens[name]).status_code == 200
    barrier = threading.Barrier(len(agents))

    def agent(pair: tuple[str, int]) -> list[tuple[str, float, float]]:
        name, counter_id = pair
        client = application.test_client()
        barrier.wait(timeout=30)
        calls = []
        while True:
            began = time.perf_counter()
            response = client.post(
                f"/api/v1/counters/{counter_id}/call-next",
                headers={"Authorization": f"Bearer {tokens[name]}"},
            )
            ended = time.perf_counter()
            if response.status_code == 204:
                return calls
            assert response.status_code == 200, response.get_json()
            calls.append((response.get_json()["label"], began, ended))

    with ThreadPoolExecutor(len(agents)) as pool:
        results = list(pool.map(agent, zip(agents, counter_ids, strict=True)))
    calls = [call for chunk in results for call in chunk]
    labels = [label for label, _, _ in calls]
    assert len(labels) == 300
    assert [label for label, n in Tally(labels).items() if n > 1] == []
    interval = {label: (began, ended) for label, began, ended in calls}

    with application.app_context():
        rows = db.session.execute(
            select(Ticket.label, Ticket.service_id, TicketEvent.id)
            .join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
            .where(TicketEvent.kind == EventKind.CALLED)
            .order_by(Ticket.priority_rank, Ticket.queued_at, Ticket.id)
        ).all()
        assert (
            db.session.scalar(select(func.count()).where(Ticket.status == TicketStatus.WAITING))
            == 0
        )
    skipped = []
    for service_id in {service for _, service, _ in rows}:
        queue = [(label, event) for label, service, event in rows if service == service_id]
        for place, (earlier, earlier_event) in enumerate(queue):
            for later, later_event in queue[place + 1 :]:
                # Called before a ticket ahead of it in its queue...
                if later_event < earlier_event:
                    (a0, a1), (b0, b1) = interval[earlier], interval[later]
                    # ...only while that one was being called by another agent.
                    if a1 < b0 or b1 < a0:
                        skipped.append((earlier, later))
    assert skipped == []


# --- (d) the SQLite writer lock ---------------------------------------------------------


def test_the_writer_lock_is_handed_on_before_the_pushes_after_commit(app, office, monkeypatch):
    """A slow push after a commit (Redis, many screens) holds no other writer back."""
    api = Api(app, office)
    pushing, pushed = threading.Event(), threading.Event()
    answers: list[int] = []

    mark = events.StatePublisher.mark

    def slow_mark(publisher: Any, keys: Any) -> None:
        # After the first request's commit: its pushes are handed to the publisher.
        if threading.current_thread().name == "first":
            pushing.set()
            pushed.wait(WAIT * 4)
        mark(publisher, keys)

    monkeypatch.setattr(events.StatePublisher, "mark", slow_mark)

    def first_ticket() -> None:
        answers.append(api.issue("CNI")["number"])

    first = threading.Thread(target=first_ticket, name="first")
    first.start()
    try:
        assert pushing.wait(WAIT * 4)
        # The first request is still pushing its events: a second one writes meanwhile.
        with ThreadPoolExecutor(max_workers=1) as pool:
            second = pool.submit(lambda: api.issue("CASIER")["number"]).result(WAIT * 4)
        assert not pushed.is_set()
    finally:
        pushed.set()
        first.join(WAIT * 4)
    assert (answers, second) == ([1], 1)


def test_a_writer_that_cannot_get_the_lock_in_time_is_answered_503(app, office, monkeypatch):
    from queue_app.infra import database

    monkeypatch.setattr(database, "WRITER_TIMEOUT_SECONDS", 0.2)
    api = Api(app, office)
    with writer_held(app):
        response = api.post(f"sites/{office.slug}/tickets", "kiosk", json={"service": "CNI"})
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.get_json()["error"]["code"] == "unavailable"
    # Nothing was taken: the next ticket is the first.
    assert api.issue("CNI")["number"] == 1


# --- (e) labels ---------------------------------------------------------------------------

NUMBERS = [1, 7, 9, 10, 99, 100, 999, 1000, 1001, 9999, 10000, 123456]


def test_labels_grow_past_999(any_app):
    office = build_office(any_app)
    api = Api(any_app, office)
    with any_app.app_context():
        site = db.session.get(Site, office.site.id)
        db.session.execute(
            insert(TicketSequence).values(
                service_id=office.services["CNI"].id,
                service_day=service_day(site, datetime.now(UTC)),
                last_number=998,
            )
        )
        db.session.commit()
    with time_machine.travel(datetime.now(UTC), tick=False):
        labels = [api.issue("CNI")["label"] for _ in range(3)]
    assert labels == ["B-999", "B-1000", "B-1001"]
    api.open_counter("g2")
    assert api.call_next("g2").get_json()["label"] == "B-999"


def test_call_next_runs_a_fixed_number_of_statements(any_app):
    office = build_office(any_app)
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    with any_app.app_context():
        session = db.session
        site = session.get(Site, office.site.id)
        services = [session.get(Service, s.id) for s in office.services.values()]
        counter = session.get(Counter, office.counters["g1"].id)  # both services
        agent = session.get(User, office.users["agent"].id)
        open_counter(session, counter, agent)
        for service in services * 2:
            issue_ticket(session, site, service, actor=SYSTEM, source=TicketSource.STAFF, now=t0)
        session.commit()
        call_next(session, counter, actor=Actor(user=agent), now=t0)
        session.commit()
        with count_statements(any_app) as statements:
            call_next(session, counter, actor=Actor(user=agent), now=t0 + timedelta(minutes=5))
            session.flush()
        session.commit()
    # The same on both databases: the counter locked; the ticket in progress
    # finished, then logged; the queue heads of the counter's services (cached,
    # hotcache.py) in one read; the chosen head locked and called, then logged.
    # Nothing learned (no row every call of a service would lock).
    assert len(statements) == 6, statements
    assert not any("counter_services" in s for s in statements), statements
    assert not any("avg_service_seconds" in s for s in statements)
