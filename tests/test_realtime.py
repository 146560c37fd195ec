"""The realtime contract (docs/api.md "Realtime events", docs/architecture.md "Realtime").

events.py alone emits ``ticket_called``, ``queue_changed`` and ``ticket_updated``,
only after the transaction commits (invariant 3), with public fields only.
In process with Flask-SocketIO's test client, then across two real server
processes and a write-only "worker" sharing Redis as the Socket.IO queue.
"""

from __future__ import annotations

import json
import os
import queue as queues
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from queue_app import create_app, create_worker_app
from queue_app.api import counters as counters_api
from queue_app.extensions import db, socketio
from queue_app.jobs import day_close
from queue_app.jobs.scheduler import run_job
from queue_app.models import Counter, TicketSource, User, utcnow
from queue_app.queue import SYSTEM, Actor, call_next, errors, issue_ticket, open_counter
from queue_app.queue.sites import get_service, get_site
from queue_app.realtime import events, publish

from .conftest import PASSWORD, Api, Office, base_config, build_office, dispose

# What a display may receive for a call (docs/api.md; counter_id is public too).
CALL_KEYS = {"label", "counter", "service", "service_name", "called_at", "recall"}
CALL_EXTRA_KEYS = {"counter_id"}
UPDATE_KEYS = {"label", "status", "position", "counter"}
UPDATE_EXTRA_KEYS = {"estimated_wait_minutes"}
WAIT = 5.0  # seconds: generous upper bound for one event, never a pause


# --- helpers: the in-process test client ---------------------------------------------


class Inbox:
    """Everything a Flask-SocketIO test client received, kept in arrival order."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.events: list[tuple[str, Any]] = []
        # State versions (tests/test_display_realtime.py checks them), kept apart.
        self.versions: list[tuple[str, int]] = []

    def pull(self) -> list[tuple[str, Any]]:
        for item in self.client.get_received():
            args = item["args"]
            payload = without_version(item["name"], args[0] if len(args) == 1 else args, self)
            self.events.append((item["name"], payload))
        return self.events

    def named(self, name: str) -> list[Any]:
        return [payload for event, payload in self.pull() if event == name]

    def wait(
        self, name: str, predicate: Callable[[Any], bool] = lambda _: True, timeout: float = WAIT
    ) -> Any:
        """The first ``name`` payload matching ``predicate``; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            for payload in self.named(name):
                if predicate(payload):
                    return payload
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching {name!r} within {timeout}s: {self.events}")
            time.sleep(0.005)

    def payloads(self) -> list[Any]:
        return [payload for _, payload in self.pull()]


def without_version(name: str, payload: Any, into: Any) -> Any:
    """The payload without its state ``version`` (recorded in ``into.versions``)."""
    if isinstance(payload, dict) and "version" in payload:
        payload = dict(payload)
        into.versions.append((name, payload.pop("version")))
    return payload


def connect(app: Flask, **kwargs: Any) -> Inbox:
    return Inbox(socketio.test_client(app, **kwargs))


def rooms_of(inbox: Inbox) -> set[str]:
    """The rooms of events the server put a test client in.

    Its own sid room is left out, and so is the device:<id> or user:<id> room
    that only serves to drop its connections when its credentials end
    (tests/test_sessions.py).
    """
    manager = socketio.server.manager
    sid = manager.sid_from_eio_sid(inbox.client.eio_sid, "/")
    rooms = set(manager.get_rooms(sid, "/")) - {sid}
    return {room for room in rooms if not room.startswith(("device:", "user:"))}


def flush(app: Flask) -> None:
    """Publish the pending queue_changed of this process now (deterministic)."""
    app.extensions[events.PUBLISHER_KEY].publish_pending()


def web_login(app: Flask, email: str) -> Any:
    """A Flask test client signed in through the CSRF-protected login form."""
    client = app.test_client()
    page = client.get("/login")
    assert page.status_code == 200
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
    assert match, "no csrf_token in the login form"
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": match.group(1)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def counts(office: Office, **waiting: int) -> dict[str, int]:
    """The waiting counts of every service of the office (zeros included)."""
    return {code: waiting.get(code, 0) for code in office.services}


# --- displays --------------------------------------------------------------------------


def test_display_receives_the_call_then_the_recall(app, office, api):
    display = connect(app, auth={"token": office.tokens["display"]})
    assert display.client.is_connected()
    assert rooms_of(display) == {f"site:{office.slug}"}
    ticket = api.issue("CNI")
    api.open_counter("g1")

    called = api.call_next("g1")
    assert called.status_code == 200
    body = called.get_json()
    payload = display.wait("ticket_called")
    assert CALL_KEYS <= set(payload) <= CALL_KEYS | CALL_EXTRA_KEYS
    assert payload == {
        **{k: payload[k] for k in CALL_EXTRA_KEYS if k in payload},
        "label": ticket["label"],
        "counter": "Guichet 1",
        "service": "CNI",
        "service_name": "Carte nationale d'identité",
        "called_at": body["called_at"],
        "recall": False,
    }
    assert payload["called_at"].endswith("Z")

    recalled = api.post(f"tickets/{ticket['id']}/recall", "agent")
    assert recalled.status_code == 200, recalled.get_json()
    again = display.wait("ticket_called", lambda p: p["recall"] is True)
    assert again["label"] == ticket["label"]
    assert again["counter"] == "Guichet 1"
    assert again["called_at"] == recalled.get_json()["called_at"]
    assert again["called_at"] >= payload["called_at"]
    # One push per moment: the call and the recall, nothing else announced.
    assert [p["recall"] for p in display.named("ticket_called")] == [False, True]


def test_queue_changed_carries_the_committed_counts(app, office, api):
    display = connect(app, auth={"token": office.tokens["display"]})
    api.issue("CNI")
    api.issue("CNI")
    api.issue("CASIER")
    # Published by the background StatePublisher thread: no flush here.
    expected = {"waiting": counts(office, CNI=2, CASIER=1)}
    assert display.wait("queue_changed", lambda p: p == expected) == expected
    for payload in display.named("queue_changed"):
        assert set(payload) == {"waiting"}
    # Never more messages than changes; bursts are coalesced.
    assert len(display.named("queue_changed")) <= 3

    api.open_counter("g2")
    assert api.call_next("g2").status_code == 200
    after = {"waiting": counts(office, CNI=1, CASIER=1)}
    display.wait("queue_changed", lambda p: p == after)


def test_a_display_of_another_site_receives_nothing(app, office, api):
    other = build_office(app, "dakar")
    here = connect(app, auth={"token": office.tokens["display"]})
    there = connect(app, auth={"token": other.tokens["display"]})
    assert here.client.is_connected()
    assert there.client.is_connected()

    ticket = api.issue("CNI")
    api.open_counter("g1")
    assert api.call_next("g1").status_code == 200
    assert api.post(f"tickets/{ticket['id']}/recall", "agent").status_code == 200
    flush(app)
    here.wait("ticket_called", lambda p: p["recall"])
    here.wait("queue_changed", lambda p: p == {"waiting": counts(office)})
    flush(app)
    assert there.pull() == []

    # The other display is listening: its own site's changes reach it, and only it.
    Api(app, other).issue("CASIER")
    flush(app)
    there.wait("queue_changed", lambda p: p == {"waiting": counts(other, CASIER=1)})
    assert here.named("queue_changed")[-1] == {"waiting": counts(office)}


def test_an_agent_signed_in_on_the_web_joins_agents_room(app, office, api):
    build_office(app, "dakar")
    browser = web_login(app, office.users["agent"].email)
    agent = connect(app, flask_test_client=browser)
    assert agent.client.is_connected()
    assert rooms_of(agent) == {f"agents:{office.slug}"}
    anonymous = connect(app)
    assert anonymous.client.is_connected()
    assert rooms_of(anonymous) == set()

    api.issue("CASIER")
    expected = {"waiting": counts(office, CASIER=1)}
    agent.wait("queue_changed", lambda p: p == expected)
    api.open_counter("g3")
    assert api.call_next("g3").status_code == 200
    assert agent.wait("ticket_called")["counter"] == "Guichet 3"

    # The sync of an agent names its site; another site is refused.
    board = agent.client.emit("sync", {"site": office.slug}, callback=True)
    assert board["site"] == office.slug
    refused = agent.client.emit("sync", {"site": "elsewhere"}, callback=True)
    assert refused["error"]["code"] == "forbidden"

    # Without credentials a client is in no site's room.
    flush(app)
    assert anonymous.pull() == []
    assert anonymous.client.emit("sync", callback=True)["error"]["code"] == "forbidden"


def test_an_invalid_token_is_refused(app, office):
    assert not socketio.test_client(app, auth={"token": "gd_not-a-token"}).is_connected()
    assert not socketio.test_client(app, query_string="?token=gu_forged").is_connected()
    # The query-string form of a valid token works and joins the site's room.
    display = connect(app, query_string=f"?token={office.tokens['display']}")
    assert display.client.is_connected()
    assert display.client.emit("sync", callback=True)["site"] == office.slug
    # Other devices connect but join no room, and may not read the board (as over REST).
    kiosk = connect(app, auth={"token": office.tokens["kiosk"]})
    assert kiosk.client.is_connected()
    assert rooms_of(kiosk) == set()
    assert kiosk.client.emit("sync", callback=True)["error"]["code"] == "forbidden"
    assert Api(app, office).get(f"sites/{office.slug}/board", "kiosk").status_code == 403


def test_a_tracking_page_follows_its_ticket(app, office, api):
    first, second, mine = (api.issue("CNI") for _ in range(3))
    tracker = connect(app)
    assert tracker.client.is_connected()

    state = tracker.client.emit("track", {"code": mine["code"].lower()}, callback=True)
    assert state["label"] == mine["label"]
    assert state["status"] == "waiting"
    assert state["position"] == 2
    assert state["counter"] is None
    unknown = tracker.client.emit("track", {"code": "NOPE1234"}, callback=True)
    assert unknown["error"]["code"] == "not_found"

    api.open_counter("g2")
    assert api.call_next("g2").get_json()["label"] == first["label"]
    update = tracker.wait("ticket_updated", lambda p: p["position"] == 1)
    assert UPDATE_KEYS <= set(update) <= UPDATE_KEYS | UPDATE_EXTRA_KEYS
    assert update == {**update, "label": mine["label"], "status": "waiting", "counter": None}

    assert api.call_next("g2").get_json()["label"] == second["label"]
    tracker.wait("ticket_updated", lambda p: p["position"] == 0)

    assert api.call_next("g2").get_json()["label"] == mine["label"]
    called = tracker.wait("ticket_updated", lambda p: p["status"] == "called")
    assert called["label"] == mine["label"]
    assert called["counter"] == "Guichet 2"
    assert called["position"] is None

    # Only its own ticket: never another label, never a display's events.
    assert {p["label"] for p in tracker.named("ticket_updated")} == {mine["label"]}
    assert {name for name, _ in tracker.events} == {"ticket_updated"}
    positions = [p["position"] for p in tracker.named("ticket_updated")]
    assert positions == [1, 0, None]


def test_a_burst_of_changes_leaves_a_tracking_page_on_the_current_state(app, office, api):
    first, mine, behind = (api.issue("CNI") for _ in range(3))
    tracker = connect(app)
    assert tracker.client.emit("track", {"code": mine["code"]}, callback=True)["position"] == 1
    api.open_counter("g1")
    # Hold the publisher so that the two calls are published together.
    app.extensions[events.PUBLISHER_KEY].stop()
    assert api.call_next("g1").get_json()["label"] == first["label"]
    assert api.call_next("g1").get_json()["label"] == mine["label"]
    assert tracker.pull() == []

    flush(app)
    update = tracker.wait("ticket_updated", lambda p: True)
    assert update["status"] == "called"
    assert update["counter"] == "Guichet 1"
    # One push, the current state: never "position 0" after "called".
    assert tracker.named("ticket_updated") == [update]


def test_a_priority_ticket_and_a_transfer_move_a_tracked_ticket(app, office, api):
    mine = api.issue("CNI")
    tracker = connect(app)
    assert tracker.client.emit("track", {"code": mine["code"]}, callback=True)["position"] == 0

    api.issue("CNI", priority=True)
    update = tracker.wait("ticket_updated", lambda p: p["position"] == 1)
    assert update["status"] == "waiting"

    api.issue("CASIER")
    response = api.post(f"tickets/{mine['id']}/transfer", "agent", json={"service": "CASIER"})
    assert response.status_code == 200, response.get_json()
    # It keeps its arrival time, so it goes before the CASIER ticket issued after it.
    tracker.wait("ticket_updated", lambda p: p["position"] == 0)
    assert [p["label"] for p in tracker.named("ticket_updated")] == [mine["label"]] * 2


def test_sync_from_a_display_returns_the_board(app, office, api):
    display = connect(app, auth={"token": office.tokens["display"]})
    ticket = api.issue("CASIER")
    api.issue("CNI")
    api.open_counter("g1")
    assert api.call_next("g1").status_code == 200

    board = display.client.emit("sync", callback=True)
    assert board["site"] == office.slug
    assert [c["label"] for c in board["calls"]] == [ticket["label"]]
    assert board["calls"][0]["counter"] == "Guichet 1"
    assert board["calls"][0]["status"] == "called"
    assert board["waiting"] == counts(office, CNI=1)
    rest = api.get(f"sites/{office.slug}/board", "display").get_json()
    assert {**board, "generated_at": None} == {**rest, "generated_at": None}


# --- invariant 3: after commit, never for a rollback --------------------------------


def _call_in_transaction(office: Office) -> Any:
    """Issue a ticket and call it at g1 in the open transaction of ``db.session``."""
    session = db.session
    site = get_site(session, office.slug)
    service = get_service(session, site, "CNI")
    agent = session.get(User, office.users["agent"].id)
    counter = session.get(Counter, office.counters["g1"].id)
    open_counter(session, counter, agent)
    issue_ticket(session, site, service, actor=SYSTEM, source=TicketSource.STAFF)
    ticket = call_next(session, counter, actor=Actor(user=agent))
    assert ticket is not None
    return ticket


def test_nothing_is_emitted_for_a_transaction_that_rolls_back(app, office, api):
    display = connect(app, auth={"token": office.tokens["display"]})
    waiting = api.issue("CNI")
    flush(app)
    display.wait("queue_changed", lambda p: p == {"waiting": counts(office, CNI=1)})
    display.events.clear()
    tracker = connect(app)
    assert tracker.client.emit("track", {"code": waiting["code"]}, callback=True)["position"] == 0
    publisher = app.extensions[events.PUBLISHER_KEY]
    with app.app_context():
        # Calls the waiting ticket (the oldest), and issues one more behind it.
        assert _call_in_transaction(office).label == waiting["label"]
        queued = events.pending_events(db.session)
        assert {e.name for e in queued} == {events.TICKET_CALLED}
        assert (publish.TICKET, waiting["id"]) in events.changed_keys(db.session)
        db.session.rollback()
        assert events.pending_events(db.session) == []
        assert events.changed_keys(db.session) == set()
    assert publisher.publish_pending() == 0

    api.issue("CASIER")
    flush(app)
    expected = {"waiting": counts(office, CNI=1, CASIER=1)}
    display.wait("queue_changed", lambda p: p == expected)
    assert display.named("ticket_called") == []
    assert all(p == expected for p in display.named("queue_changed"))
    assert tracker.pull() == []
    board = api.get(f"sites/{office.slug}/board", "display").get_json()
    assert board["calls"] == []


def test_a_request_failing_after_queueing_emits_nothing(app, office, api, monkeypatch):
    display = connect(app, auth={"token": office.tokens["display"]})
    api.issue("CNI")
    api.open_counter("g1")
    flush(app)
    display.wait("queue_changed", lambda p: p == {"waiting": counts(office, CNI=1)})
    display.pull()
    display.events.clear()
    queued: list[list[events.PendingEvent]] = []

    def call_then_fail(session: Any, *args: Any, **options: Any) -> Any:
        call_next(session, *args, **options)
        queued.append(events.pending_events(session))
        raise errors.InvalidTransition(action="call", reason="test")

    # The agent's call (api/counters.py) fails after it queued its events.
    monkeypatch.setattr(counters_api, "call_next", call_then_fail)
    response = api.call_next("g1")
    assert response.status_code == 422, response.get_json()
    assert queued
    assert any(e.name == events.TICKET_CALLED for e in queued[0])
    monkeypatch.undo()

    api.issue("CASIER")
    flush(app)
    expected = {"waiting": counts(office, CNI=1, CASIER=1)}
    display.wait("queue_changed", lambda p: p == expected)
    assert display.named("ticket_called") == []
    assert all(p == expected for p in display.named("queue_changed"))
    assert api.get(f"sites/{office.slug}/board", "display").get_json()["calls"] == []


def test_events_are_emitted_only_once_the_transaction_commits(app, office):
    display = connect(app, auth={"token": office.tokens["display"]})
    publisher = app.extensions[events.PUBLISHER_KEY]
    with app.app_context():
        ticket = _call_in_transaction(office)
        label = ticket.label
        db.session.flush()
        # Flushed, locked, queued, but not committed: nothing is out.
        assert events.pending_events(db.session)
        assert publisher.publish_pending() == 0
        assert display.pull() == []
        db.session.commit()
        # The moment is pushed by the commit itself, synchronously.
        assert [p["label"] for p in display.named("ticket_called")] == [label]
        assert events.pending_events(db.session) == []
    display.wait("queue_changed", lambda p: p == {"waiting": counts(office)})


# --- personal data ---------------------------------------------------------------------


PHONE = "+221 77 123 45 67"
PHONE_FORMS = ["771234567", "+221", "77 123 45 67", "77-123-45-67", "1234567"]


def _scalars(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _scalars(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _scalars(item)
    else:
        yield value


def test_no_payload_in_any_room_carries_the_phone_number(app, office, api):
    display = connect(app, auth={"token": office.tokens["display"]})
    agent = connect(app, flask_test_client=web_login(app, office.users["agent"].email))
    first = api.issue("CNI", phone=PHONE)
    second = api.issue("CNI", phone="00221771234567", priority=True)
    third = api.issue("CASIER", phone="77 123 45 67")
    trackers = []
    acks = []
    for ticket in (first, second, third):
        tracker = connect(app)
        acks.append(tracker.client.emit("track", {"code": ticket["code"]}, callback=True))
        trackers.append(tracker)

    api.open_counter("g2")
    called = api.call_next("g2").get_json()
    assert api.post(f"tickets/{called['id']}/recall", "agent").status_code == 200
    assert api.post(f"tickets/{called['id']}/start", "agent").status_code == 200
    assert api.post(f"tickets/{called['id']}/finish", "agent").status_code == 200
    assert api.post(f"tickets/{third['id']}/cancel", "agent").status_code == 200
    flush(app)
    display.wait("queue_changed", lambda p: p == {"waiting": counts(office, CNI=1)})
    agent.wait("queue_changed", lambda p: p == {"waiting": counts(office, CNI=1)})
    acks.append(display.client.emit("sync", callback=True))

    received = [*display.payloads(), *agent.payloads(), *acks]
    for tracker in trackers:
        updates = tracker.payloads()
        assert updates, "each tracking page received its updates"
        received += updates
    assert {name for inbox in (display, agent) for name, _ in inbox.events} == {
        "ticket_called",
        "queue_changed",
    }
    dumped = json.dumps(received, ensure_ascii=False)
    for form in PHONE_FORMS:
        assert form not in dumped
    for value in _scalars(received):
        digits = re.sub(r"\D", "", str(value))
        assert "771234567" not in digits, value
    assert "phone" not in dumped


# --- reconnection ----------------------------------------------------------------------


def test_a_reconnecting_display_gets_the_calls_it_missed(app, office, api):
    display = connect(app, auth={"token": office.tokens["display"]})
    first = api.issue("CNI")
    api.open_counter("g1")
    assert api.call_next("g1").status_code == 200
    display.wait("ticket_called")
    display.client.disconnect()

    second, third = api.issue("CNI"), api.issue("CASIER")
    api.open_counter("g2", as_="agent2")
    assert api.call_next("g2", as_="agent2").get_json()["label"] == second["label"]
    assert api.call_next("g1").get_json()["label"] == third["label"]

    again = connect(app, auth={"token": office.tokens["display"]})
    assert again.client.is_connected()
    board = again.client.emit("sync", callback=True)
    by_label = {call["label"]: call for call in board["calls"]}
    assert set(by_label) == {first["label"], second["label"], third["label"]}
    assert by_label[first["label"]]["status"] == "done"
    assert by_label[second["label"]]["counter"] == "Guichet 2"
    assert by_label[third["label"]]["counter"] == "Guichet 1"
    assert board["calls"][0]["called_at"] >= board["calls"][-1]["called_at"]
    assert board["waiting"] == counts(office)
    # Missed pushes are not replayed (a late call would mislead the room).
    assert again.named("ticket_called") == []
    rest = api.get(f"sites/{office.slug}/board", "display").get_json()
    assert rest["calls"] == board["calls"]


# --- several processes over Redis --------------------------------------------------------


QUEUE_APP = Path(sys.executable).with_name("queue-app")


class RealClient:
    """A python-socketio client whose handler stamps and queues every event."""

    def __init__(self) -> None:
        import socketio as sio_client

        self.sio = sio_client.Client(reconnection=False)
        self.inbox: queues.Queue[tuple[float, str, Any]] = queues.Queue()
        self.seen: list[tuple[float, str, Any]] = []
        self.versions: list[tuple[str, int]] = []
        self.sio.on("*", self._on_event)

    def _on_event(self, event: str, *args: Any) -> None:
        payload = without_version(event, args[0] if args else None, self)
        self.inbox.put((time.perf_counter(), event, payload))

    def connect(self, url: str, auth: dict[str, Any] | None = None) -> RealClient:
        self.sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=10)
        return self

    def wait(
        self, name: str, predicate: Callable[[Any], bool] = lambda _: True, timeout: float = WAIT
    ) -> tuple[float, Any]:
        """(arrival time, payload) of the next ``name`` matching ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                item = self.inbox.get(timeout=max(deadline - time.monotonic(), 0))
            except queues.Empty:
                raise AssertionError(
                    f"no matching {name!r} within {timeout}s; last seen {self.seen[-10:]}"
                ) from None
            self.seen.append(item)
            arrived, event, payload = item
            if event == name and predicate(payload):
                return arrived, payload

    @staticmethod
    def close_all(*clients: RealClient) -> None:
        """Disconnect together: each waits ~3 s for a close frame the dev server never sends."""
        threads = [threading.Thread(target=client.sio.disconnect) for client in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)


@dataclass
class Cluster:
    """Two `queue-app run` processes on one database and one Redis channel."""

    a: str
    b: str
    app: Flask  # the test process's handle on the shared database (emits nothing)
    database_url: str
    redis_url: str
    channel: str


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    import requests

    while True:
        if proc.poll() is not None:
            pytest.fail(f"server {url} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"server {url} not ready in time:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)


def _wait_subscribed(redis_url: str, channel: str) -> None:
    """Until a server listens on the Socket.IO channel (it subscribes on its first client)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 10
        while dict(client.pubsub_numsub(channel)).get(channel.encode(), 0) < 1:
            assert time.monotonic() < deadline, f"no server subscribed to {channel}"
            time.sleep(0.01)
    finally:
        client.close()


def _redis_or_skip() -> str:
    import redis

    from .conftest import REDIS_URL, _require

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        _require("QUEUE_APP_REQUIRE_REDIS", f"Redis is not reachable at {REDIS_URL}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture(scope="module")
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """Started once for the module (each start imports the app: seconds); tests use own sites.

    The database is PostgreSQL when it is up, else a migrated SQLite file.
    """
    redis_url = _redis_or_skip()
    channel = f"guichet-test-{uuid.uuid4().hex[:10]}"
    folder = tmp_path_factory.mktemp("cluster")
    try:
        database_url = request.getfixturevalue("postgres_url")
    except pytest.skip.Exception:
        path = folder / "guichet.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        database_url = f"sqlite:///{path}"
    app = create_app({**base_config(folder, database_url), "SOCKETIO_WRITE_ONLY": True})
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_APP_")}
    env.update(
        QUEUE_APP_DATABASE_URL=database_url,
        QUEUE_APP_REDIS_URL=redis_url,
        QUEUE_APP_SOCKETIO_CHANNEL=channel,
        QUEUE_APP_SECRET_KEY="realtime-test-secret",
        QUEUE_APP_RATELIMIT_ENABLED="false",
        QUEUE_APP_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    started: list[tuple[subprocess.Popen[bytes], Any]] = []
    try:
        servers = []
        for name in ("a", "b"):
            port = _free_port()
            instance = folder / f"server-{name}"
            instance.mkdir()
            log = folder / f"server-{name}.log"
            handle = log.open("wb")
            proc = subprocess.Popen(
                [str(QUEUE_APP), "run", "--host", "127.0.0.1", "--port", str(port)]
                + ["--no-scheduler"],
                env={**env, "QUEUE_APP_INSTANCE_PATH": str(instance)},
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
            started.append((proc, handle))
            servers.append((f"http://127.0.0.1:{port}", proc, log))
        deadline = time.monotonic() + 45
        for url, proc, log in servers:
            _wait_ready(url, proc, log, deadline)
        yield Cluster(servers[0][0], servers[1][0], app, database_url, redis_url, channel)
    finally:
        for proc, _ in started:
            proc.terminate()
        for proc, handle in started:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            handle.close()
        dispose(app)


def _agent_token(http: Any, base: str, email: str) -> str:
    response = http.post(f"{base}/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


@pytest.mark.slow
@pytest.mark.redis
def test_a_call_on_server_a_reaches_a_display_on_server_b(cluster):
    import requests

    office = build_office(cluster.app, "rufisque")
    display = RealClient().connect(cluster.b, auth={"token": office.tokens["display"]})
    calls = 50
    try:
        _wait_subscribed(cluster.redis_url, cluster.channel)
        with requests.Session() as http:
            kiosk = {"Authorization": f"Bearer {office.tokens['kiosk']}"}
            for i in range(calls):
                response = http.post(
                    f"{cluster.a}/api/v1/sites/{office.slug}/tickets",
                    json={"service": "CNI" if i % 2 else "CASIER"},
                    headers=kiosk,
                )
                assert response.status_code == 201, response.text
            full = {"waiting": counts(office, CNI=calls // 2, CASIER=calls - calls // 2)}
            display.wait("queue_changed", lambda p: p == full)

            token = _agent_token(http, cluster.a, office.users["agent"].email)
            agent = {"Authorization": f"Bearer {token}"}
            g1 = office.counters["g1"].id
            opened = http.post(f"{cluster.a}/api/v1/counters/{g1}/open", headers=agent)
            assert opened.status_code == 200, opened.text

            latencies, after_answer, labels = [], [], []
            for _ in range(calls):
                sent = time.perf_counter()
                response = http.post(f"{cluster.a}/api/v1/counters/{g1}/call-next", headers=agent)
                answered = time.perf_counter()
                assert response.status_code == 200, response.text
                body = response.json()
                arrived, payload = display.wait(
                    "ticket_called", lambda p, label=body["label"]: p["label"] == label
                )
                latencies.append(arrived - sent)
                after_answer.append(arrived - answered)
                labels.append(payload["label"])
                assert CALL_KEYS <= set(payload) <= CALL_KEYS | CALL_EXTRA_KEYS
                assert payload["counter"] == "Guichet 1"
                assert payload["service"] == body["service"]
                assert payload["called_at"] == body["called_at"]
                assert payload["recall"] is False
            assert len(set(labels)) == calls

            nothing = http.post(f"{cluster.a}/api/v1/counters/{g1}/call-next", headers=agent)
            assert nothing.status_code == 204
            display.wait("queue_changed", lambda p: p == {"waiting": counts(office)})
    finally:
        RealClient.close_all(display)

    def summary(values: list[float]) -> str:
        ms = sorted(1000 * value for value in values)
        p95 = ms[round(0.95 * (len(ms) - 1))]
        return f"median {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, max {ms[-1]:.1f} ms"

    print(  # noqa: T201  (informational: pytest -s)
        f"\nRedis, {calls} calls: POST call-next on A -> ticket_called on B's display: "
        f"{summary(latencies)}; from A's answer to B's display: {summary(after_answer)}"
    )


@pytest.mark.slow
@pytest.mark.redis
def test_the_worker_pushes_through_redis_to_server_b(cluster, tmp_path):
    office = build_office(cluster.app, "kaolack")
    display = RealClient().connect(cluster.b, auth={"token": office.tokens["display"]})
    tracker = RealClient().connect(cluster.b)
    # The app of `queue-app worker`.
    worker = create_worker_app(
        {
            **base_config(tmp_path, cluster.database_url),
            "REDIS_URL": cluster.redis_url,
            "SOCKETIO_CHANNEL": cluster.channel,
        }
    )
    try:
        _wait_subscribed(cluster.redis_url, cluster.channel)
        with worker.app_context():
            site = get_site(db.session, office.slug)
            stale = issue_ticket(
                db.session,
                site,
                get_service(db.session, site, "CNI"),
                actor=SYSTEM,
                source=TicketSource.STAFF,
                enforce_hours=False,
                now=utcnow() - timedelta(days=2),
            ).ticket
            issue_ticket(
                db.session,
                site,
                get_service(db.session, site, "CASIER"),
                actor=SYSTEM,
                source=TicketSource.STAFF,
            )
            db.session.commit()
            code, label = stale.code, stale.label
        # Built by the worker's state publisher, relayed by Redis and server B.
        today = {"waiting": counts(office, CASIER=1)}
        display.wait("queue_changed", lambda p: p == today)

        state = tracker.sio.call("track", {"code": code}, timeout=WAIT)
        assert state["status"] == "waiting"
        assert state["label"] == label

        # The day-close job, as the worker's scheduler runs it.
        assert run_job(worker, "day_close", day_close.run) == 1
        _, update = tracker.wait("ticket_updated", lambda p: p["label"] == label)
        assert update["status"] == "cancelled"
        assert update["counter"] is None
        assert update["position"] is None
        # The day close's own queue_changed (today's counts are unchanged).
        display.wait("queue_changed", lambda p: p == today)
        # (and "resync", which a server may send its screens at any time: on its
        # first Redis subscription too, as here when this test runs alone)
        assert {event for _, event, _ in display.seen} - {"resync"} == {"queue_changed"}
    finally:
        RealClient.close_all(display, tracker)
        dispose(worker)
