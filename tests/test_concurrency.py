"""Invariants 1 and 2 under concurrency, through the whole HTTP stack.

Run on the embedded SQLite default and on PostgreSQL (where SKIP LOCKED and the
sequence row lock do the work).
"""

from __future__ import annotations

import threading
from collections import Counter as Tally
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from queue_app.extensions import db
from queue_app.models import EventKind, Role, Service, Site, Ticket, TicketEvent, TicketSource
from queue_app.queue import SYSTEM, issue_ticket
from queue_app.queue.accounts import create_user
from queue_app.queue.sites import create_counter

from .conftest import Api, build_office

pytestmark = pytest.mark.slow


def test_sixteen_kiosks_get_numbers_1_to_400_exactly_once(any_app):
    office = build_office(any_app)
    api = Api(any_app, office)
    token = office.tokens["kiosk"]
    threads, per_thread = 16, 25
    barrier = threading.Barrier(threads)

    def kiosk(_: int) -> list[int]:
        client = any_app.test_client()
        barrier.wait(timeout=30)
        numbers = []
        for _ in range(per_thread):
            response = client.post(
                f"/api/v1/sites/{office.slug}/tickets",
                json={"service": "CNI"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 201, response.get_json()
            numbers.append(response.get_json()["number"])
        return numbers

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(kiosk, range(threads)))
    numbers = sorted(n for chunk in results for n in chunk)
    assert numbers == list(range(1, 401))
    with any_app.app_context():
        labels = db.session.scalars(select(Ticket.label)).all()
        assert len(labels) == len(set(labels)) == 400
        issued = db.session.scalar(
            select(func.count())
            .select_from(TicketEvent)
            .where(TicketEvent.kind == EventKind.ISSUED)
        )
        assert issued == 400
    assert api.get(f"sites/{office.slug}/board", "display").get_json()["waiting"]["CNI"] == 400


def test_four_agents_calling_at_once_call_each_ticket_exactly_once(any_app):
    office = build_office(any_app)
    agents = ["agent", "agent2", "agent3", "agent4"]
    with any_app.app_context():
        site = db.session.get(Site, office.site.id)
        cni = db.session.get(Service, office.services["CNI"].id)
        extra = [create_counter(db.session, site, f"Guichet {n}", [(cni, 1)]) for n in (7, 8)]
        for name in ("agent3", "agent4"):
            create_user(
                db.session, f"{name}@thies.sn", "correct horse battery", Role.AGENT, sites=[site]
            )
        for _ in range(300):
            issue_ticket(db.session, site, cni, actor=SYSTEM, source=TicketSource.STAFF)
        db.session.commit()
        counter_ids = [office.counters["g1"].id, office.counters["g2"].id, *(c.id for c in extra)]
    api = Api(any_app, office)
    tokens = {}
    for name, counter_id in zip(agents, counter_ids, strict=True):
        email = office.users[name].email if name in office.users else f"{name}@thies.sn"
        tokens[name] = api.post(
            "auth/token", json={"email": email, "password": "correct horse battery"}
        ).get_json()["token"]
        opened = api.post(f"counters/{counter_id}/open", tokens[name])
        assert opened.status_code == 200, opened.get_json()
    barrier = threading.Barrier(len(agents))

    def agent(pair: tuple[str, int]) -> list[str]:
        name, counter_id = pair
        client = any_app.test_client()
        barrier.wait(timeout=30)
        called = []
        while True:
            response = client.post(
                f"/api/v1/counters/{counter_id}/call-next",
                headers={"Authorization": f"Bearer {tokens[name]}"},
            )
            if response.status_code == 204:
                return called
            assert response.status_code == 200, response.get_json()
            called.append(response.get_json()["label"])

    with ThreadPoolExecutor(len(agents)) as pool:
        results = list(pool.map(agent, zip(agents, counter_ids, strict=True)))
    every_call = [label for chunk in results for label in chunk]
    assert len(every_call) == 300
    duplicates = [label for label, n in Tally(every_call).items() if n > 1]
    assert duplicates == []
    assert all(results), "each agent called some tickets"
    with any_app.app_context():
        calls = db.session.scalar(
            select(func.count())
            .select_from(TicketEvent)
            .where(TicketEvent.kind == EventKind.CALLED)
        )
        assert calls == 300
        left = db.session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.status == "waiting")
        )
        assert left == 0
