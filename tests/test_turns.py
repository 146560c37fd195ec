"""Kiosks of one process wait their turn for a service's number in the process (turns.py).

On PostgreSQL, a ticket request waits behind the others of its process rather
than on the number row, in order of arrival. The turn is only an aid: one that
is not given back would stall every kiosk of the service, so these tests check
that it always is, and that a request left waiting too long goes on without it.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from queue_app.extensions import db
from queue_app.infra.fifo import FifoLock
from queue_app.models import Service, Site, TicketSource
from queue_app.queue import SYSTEM, issue_ticket, turns

from .conftest import Api, build_office


def _kiosk_issue_in_background(api: Api, slug: str) -> tuple[threading.Thread, dict[str, Any]]:
    answer: dict[str, Any] = {}

    def issue() -> None:
        response = api.post(f"sites/{slug}/tickets", "kiosk", json={"service": "CNI"})
        answer["status"], answer["body"] = response.status_code, response.get_json()

    thread = threading.Thread(target=issue, daemon=True)
    thread.start()
    return thread, answer


@pytest.mark.postgres
@pytest.mark.parametrize("end", ["commit", "rollback"])
def test_a_ticket_transaction_gives_its_turn_back_however_it_ends(pg_app, monkeypatch, end):
    # A turn kept by mistake would hold the next kiosk for this long.
    monkeypatch.setattr(turns, "TURN_TIMEOUT_SECONDS", 60.0)
    office = build_office(pg_app)
    api = Api(pg_app, office)
    with pg_app.app_context():
        session = db.session
        site = session.get(Site, office.site.id)
        cni = session.get(Service, office.services["CNI"].id)
        # Staff issuing: the ticket's transaction holds the turn until it ends.
        issue_ticket(session, site, cni, actor=SYSTEM, source=TicketSource.STAFF)
        getattr(session, end)()

    thread, answer = _kiosk_issue_in_background(api, office.slug)
    thread.join(timeout=20)
    assert not thread.is_alive(), "the kiosk waited for a turn nobody holds"
    assert answer["status"] == 201, answer
    # A rolled-back ticket gave its number back.
    assert answer["body"]["number"] == (2 if end == "commit" else 1)


def _wait_until(condition, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return True
        done.wait(0.01)
    return condition()


@pytest.mark.postgres
def test_a_kiosk_waits_its_turn_behind_the_request_holding_it(pg_app, monkeypatch):
    monkeypatch.setattr(turns, "TURN_TIMEOUT_SECONDS", 60.0)
    office = build_office(pg_app)
    api = Api(pg_app, office)
    service_id = office.services["CNI"].id
    with pg_app.app_context():
        session = db.session
        assert turns.take(session, service_id)
        line = turns._line_for((id(session.get_bind()), service_id))
        try:
            thread, answer = _kiosk_issue_in_background(api, office.slug)
            # The kiosk's request queues in the process, not in PostgreSQL...
            assert _wait_until(lambda: len(line._waiting) == 1)
            assert "status" not in answer
        finally:
            session.rollback()
        # ...and is served as soon as the turn is given back.
        thread.join(timeout=20)
        assert not thread.is_alive()
        assert answer["status"] == 201, answer
        assert not line._waiting


@pytest.mark.postgres
def test_a_kiosk_left_waiting_for_its_turn_goes_on_without_it(pg_app, monkeypatch):
    monkeypatch.setattr(turns, "TURN_TIMEOUT_SECONDS", 0.2)
    office = build_office(pg_app)
    api = Api(pg_app, office)
    with pg_app.app_context():
        session = db.session
        # A request that took the turn and is stuck before it wrote anything.
        assert turns.take(session, office.services["CNI"].id)
        try:
            thread, answer = _kiosk_issue_in_background(api, office.slug)
            thread.join(timeout=20)
            assert not thread.is_alive()
            assert answer["status"] == 201, answer
            assert answer["body"]["number"] == 1
        finally:
            session.rollback()


def test_waiting_requests_get_their_turn_in_order_of_arrival():
    line = FifoLock()
    assert line.acquire(timeout=1)
    served: list[int] = []
    waiting = []
    for n in range(5):

        def wait(n: int = n) -> None:
            assert line.acquire(timeout=20)
            served.append(n)
            line.release()

        thread = threading.Thread(target=wait, daemon=True)
        thread.start()
        waiting.append(thread)
        # The next one arrives once this one is in line.
        assert _wait_until(lambda n=n: len(line._waiting) == n + 1)
    line.release()
    for thread in waiting:
        thread.join(timeout=20)
    assert served == [0, 1, 2, 3, 4]
    # Free again: the next one takes it at once.
    assert line.acquire(timeout=0)
