"""Faults survived, nothing lost (docs/operations/faults.md).

* A server killed with SIGKILL while kiosks issue tickets with
  Idempotency-Keys: each retried request gets its ticket exactly once.
* PostgreSQL unreachable: 503 with Retry-After (JSON on the API, a page for
  people), /readyz says so, one log line when it starts and one when it ends,
  and service resumes by itself.
* Redis gone: calls still succeed and commit, displays on the emitting
  process still get them, and when Redis returns every process asks its
  screens to resync, so the screens of the other processes catch up.

Each fault is made on processes of the test's own (tests/servers.py): a
server subprocess, a PostgreSQL cluster, a redis-server. Never the shared ones.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from queue_app import create_app
from queue_app.cli.commands import upgrade_database
from queue_app.extensions import db, socketio
from queue_app.models import Device, DeviceKind, Site, Ticket
from queue_app.queue.accounts import create_device
from queue_app.realtime import events

from .conftest import PASSWORD, Api, Office, base_config, build_office, dispose
from .servers import AppServer, PostgresServer, RedisServer, server_env

WAIT = 15.0  # seconds: upper bound for something to happen, never a pause


def wait_for(what: str, condition: Callable[[], Any], timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.02)


@pytest.fixture
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """The run's PostgreSQL database when parametrized so, else a migrated SQLite file."""
    if getattr(request, "param", "sqlite") == "postgres":
        yield request.getfixturevalue("postgres_url")
        return
    path = tmp_path / "shared.db"
    shutil.copy(sqlite_template, path)
    yield f"sqlite:///{path}"


def handle_on(database_url: str, folder: Path) -> Flask:
    """The test's own handle on a database the servers use (it emits nothing)."""
    folder.mkdir(exist_ok=True)
    return create_app({**base_config(folder, database_url), "SOCKETIO_WRITE_ONLY": True})


# --- (a) SIGKILL while kiosks issue tickets --------------------------------------------------


@dataclass
class Answer:
    key: str
    service: str
    status: int
    body: dict[str, Any]


@pytest.mark.slow
@pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_kiosks_retrying_through_a_sigkill_get_each_ticket_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    import requests

    handle = handle_on(database_url, tmp_path / "handle")
    office = build_office(handle, f"kill{uuid.uuid4().hex[:6]}")
    server = AppServer(tmp_path, server_env(database_url), "server").start()
    kiosks, per_kiosk = 6, 30
    answers: list[Answer] = []
    failures: Counter[str] = Counter()
    issued = threading.Semaphore(0)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def kiosk(number: int) -> None:
        headers = {"Authorization": f"Bearer {office.tokens['kiosk']}"}
        url = f"{server.url}/api/v1/sites/{office.slug}/tickets"
        try:
            with requests.Session() as http:
                for n in range(per_kiosk):
                    key = f"kiosk{number}-{n}-{uuid.uuid4().hex}"
                    body = {"service": "CNI" if (number + n) % 2 else "CASIER"}
                    deadline = time.monotonic() + 90
                    while True:  # the kiosk retries the same request until it is answered
                        try:
                            response = http.post(
                                url,
                                json=body,
                                headers={**headers, "Idempotency-Key": key},
                                timeout=10,
                            )
                        except requests.RequestException as error:
                            with lock:
                                failures[type(error).__name__] += 1
                            assert time.monotonic() < deadline, f"{key} never answered"
                            time.sleep(0.05)
                            continue
                        assert response.status_code in (200, 201), response.text
                        with lock:
                            answers.append(
                                Answer(key, body["service"], response.status_code, response.json())
                            )
                        issued.release()
                        break
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=kiosk, args=(k,)) for k in range(kiosks)]
    try:
        for thread in threads:
            thread.start()
        # Kill the server in the middle of the morning rush, then bring it back.
        for _ in range(kiosks * per_kiosk // 3):
            assert issued.acquire(timeout=60), "kiosks stalled before the kill"
        server.kill()
        server.start()
        for thread in threads:
            thread.join(timeout=180)
        assert not errors, errors
        assert not any(thread.is_alive() for thread in threads)
    finally:
        server.stop()

    keys = kiosks * per_kiosk
    assert len(answers) == keys
    assert sum(failures.values()) > 0, "no request was cut by the kill: the test proved nothing"
    # One ticket per key, never two; every answered ticket exists.
    assert len({answer.body["id"] for answer in answers}) == keys
    with handle.app_context():
        site = db.session.scalar(select(Site).where(Site.slug == office.slug))
        tickets = db.session.scalars(select(Ticket).where(Ticket.site_id == site.id)).all()
        numbers: dict[int, list[int]] = defaultdict(list)
        for ticket in tickets:
            numbers[ticket.issued_service_id].append(ticket.number)
    dispose(handle)
    assert len(tickets) == keys
    assert {t.id for t in tickets} == {answer.body["id"] for answer in answers}
    for service, taken in numbers.items():
        # No number twice, none skipped: a killed transaction gave its number back.
        assert sorted(taken) == list(range(1, len(taken) + 1)), service
    for answer in answers:
        assert answer.body["service"] == answer.service


# --- (b) PostgreSQL unreachable ----------------------------------------------------------------


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.init().start()
        yield server
    finally:
        server.destroy()


def csrf_from(client: Any, path: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get(path).text)
    assert match, path
    return match.group(1)


@pytest.mark.slow
def test_postgresql_down_answers_503_and_service_resumes_by_itself(
    own_postgres: PostgresServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app({**base_config(tmp_path, own_postgres.url), "UNAVAILABLE_RETRY_AFTER": 7})
    try:
        with app.app_context():
            upgrade_database()
        office = build_office(app)
        api = Api(app, office)
        ticket = api.issue("CNI")
        api.token("agent")  # signed in before the outage
        browser = app.test_client()
        signed = browser.post(
            "/login",
            data={
                "csrf_token": csrf_from(browser, "/login"),
                "email": office.users["agent"].email,
                "password": PASSWORD,
            },
        )
        assert signed.status_code == 302
        assert browser.get("/agent/").status_code == 200
        assert app.test_client().get("/readyz").status_code == 200
        screen = socketio.test_client(app, auth={"token": office.tokens["display"]})
        assert screen.is_connected()

        caplog.set_level(logging.INFO)
        caplog.clear()
        own_postgres.stop()
        board = f"sites/{office.slug}/board"
        for _ in range(10):
            for response in (
                api.get(board, "display"),
                api.post(f"sites/{office.slug}/tickets", "kiosk", json={"service": "CNI"}),
                api.get(f"tickets/{ticket['id']}", "agent"),
            ):
                assert response.status_code == 503, response.get_data(as_text=True)[:300]
                error = response.get_json()["error"]
                assert error["code"] == "unavailable"
                assert error["message"]
                assert int(response.headers["Retry-After"]) == 7
            for page in (browser.get("/agent/"), app.test_client().get(f"/t/{ticket['code']}")):
                assert page.status_code == 503
                assert page.mimetype == "text/html"
                assert "indisponible" in page.text  # French by default
                assert page.headers["Retry-After"] == "7"
                assert page.headers["Content-Security-Policy"]
            ready = app.test_client().get("/readyz")
            assert ready.status_code == 503
            assert ready.get_json()["checks"]["database"] == "unreachable"
            # A connected display asking for the board is told; a new one is refused for now.
            answer = screen.emit("sync", callback=True)
            assert answer["error"]["code"] == "unavailable"
            assert not socketio.test_client(
                app, auth={"token": office.tokens["display"]}
            ).is_connected()

        outage = [r for r in caplog.records if "database" in r.getMessage().lower()]
        assert len(outage) == 1, [r.getMessage() for r in outage]
        assert outage[0].levelno >= logging.WARNING
        assert not [r for r in caplog.records if r.exc_info], "no traceback per request"

        own_postgres.start()
        # No restart of the app: the pool finds its connections dead and makes new ones.
        assert api.get(board, "display").status_code == 200
        again = api.post(f"sites/{office.slug}/tickets", "kiosk", json={"service": "CNI"})
        assert again.status_code == 201, again.get_json()
        assert browser.get("/agent/").status_code == 200
        assert app.test_client().get("/readyz").status_code == 200
        assert "calls" in screen.emit("sync", callback=True)
        assert socketio.test_client(app, auth={"token": office.tokens["display"]}).is_connected()
        back = [r for r in caplog.records if "database" in r.getMessage().lower()]
        assert len(back) == 2, [r.getMessage() for r in back]
        assert "again" in back[1].getMessage()
    finally:
        dispose(app)


# --- (c) Redis gone ------------------------------------------------------------------------------


class Display:
    """A display-like Socket.IO client: records calls, and answers resync by fetching the board."""

    def __init__(self, name: str) -> None:
        import socketio as sio_client

        self.name = name
        self.sio = sio_client.Client(reconnection=False)
        self.calls: list[str] = []
        self.boards: list[tuple[str, set[str]]] = []  # (resync reason, labels on the board)
        self.disconnected = threading.Event()
        self.ready = threading.Event()
        self.closing = threading.Event()
        # The threads answering resync: joined by close(), so none outlives its test (one
        # failing after its test ended would fail the next test of the process).
        self.fetches: list[threading.Thread] = []
        self.sio.on("ticket_called", self._called)
        self.sio.on("resync", self._resync)
        self.sio.on("disconnect", lambda *args: self.disconnected.set())

    def _called(self, payload: dict[str, Any]) -> None:
        self.calls.append(payload["label"])

    def _resync(self, payload: dict[str, Any]) -> None:
        # As the waiting-room display does: fetch the current state again.
        def fetch() -> None:
            # socket.io-client holds events that arrive before its connection is
            # acknowledged until it is; this client waits the same way.
            try:
                assert self.ready.wait(WAIT)
                board = self.sio.call("sync", timeout=WAIT)
            except Exception:
                if self.closing.is_set():
                    return  # the test closed this display while it was asking
                raise
            self.boards.append((payload["reason"], {c["label"] for c in board["calls"]}))

        thread = threading.Thread(target=fetch, name=f"display-{self.name}-resync", daemon=True)
        self.fetches.append(thread)
        thread.start()

    def connect(self, url: str, token: str) -> Display:
        self.sio.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
        self.ready.set()
        return self

    def got_call(self, label: str) -> bool:
        return label in self.calls

    def resynced(self, reason: str) -> bool:
        return any(got == reason for got, _ in self.boards)

    def caught_up(self, label: str) -> bool:
        return any(
            reason == "redis_reconnected" and label in labels for reason, labels in self.boards
        )

    def close(self) -> None:
        self.closing.set()
        self.ready.set()  # a fetch still waiting for the connection ends now
        if self.sio.connected:
            self.sio.disconnect()
        for thread in self.fetches:
            thread.join(WAIT)
        assert not [t.name for t in self.fetches if t.is_alive()], "a resync fetch still runs"


def subscribers(redis_url: str, channel: str) -> int:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        return int(dict(client.pubsub_numsub(channel)).get(channel.encode(), 0))
    finally:
        client.close()


@dataclass
class RedisCluster:
    redis: RedisServer
    a: AppServer
    b: AppServer
    handle: Flask
    channel: str


@pytest.fixture
def redis_cluster(database_url: str, tmp_path: Path) -> Iterator[RedisCluster]:
    """Two server processes on one database and a Redis of the test's own.

    When the test fails, pytest shows the end of both servers' logs.
    """
    redis = RedisServer(tmp_path).start()
    channel = f"guichet-test-{uuid.uuid4().hex[:10]}"
    env = server_env(
        database_url,
        REDIS_URL=redis.url,
        SOCKETIO_CHANNEL=channel,
        REDIS_RETRY_SECONDS="0.5",
    )
    a = AppServer(tmp_path, env, "server-a")
    b = AppServer(tmp_path, env, "server-b")
    handle = handle_on(database_url, tmp_path / "handle")
    try:
        a.start()
        b.start()
        yield RedisCluster(redis, a, b, handle, channel)
    finally:
        # Shown by pytest when the test failed ("Captured stdout teardown").
        print(f"--- server A ---\n{a.tail()}\n--- server B ---\n{b.tail()}")  # noqa: T201
        a.stop()
        b.stop()
        redis.stop()
        dispose(handle)


def agent_headers(http: Any, base: str, email: str) -> dict[str, str]:
    response = http.post(f"{base}/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def second_display(cluster: RedisCluster, office: Office) -> tuple[int, str]:
    with cluster.handle.app_context():
        site = db.session.get(Site, office.site.id)
        device, token = create_device(db.session, site, DeviceKind.DISPLAY, "TV salle 2")
        db.session.commit()
        return device.id, token


@pytest.mark.slow
def test_a_redis_outage_loses_no_call_and_screens_catch_up(redis_cluster: RedisCluster) -> None:
    import requests

    cluster = redis_cluster
    office = build_office(cluster.handle, "mbour")
    _, token_b = second_display(cluster, office)
    on_a = Display("a").connect(cluster.a.url, office.tokens["display"])
    on_b = Display("b").connect(cluster.b.url, token_b)
    try:
        wait_for(
            "both servers subscribed", lambda: subscribers(cluster.redis.url, cluster.channel) == 2
        )
        with requests.Session() as http:
            kiosk = {"Authorization": f"Bearer {office.tokens['kiosk']}"}
            for _ in range(4):
                issued = http.post(
                    f"{cluster.a.url}/api/v1/sites/{office.slug}/tickets",
                    json={"service": "CNI"},
                    headers=kiosk,
                )
                assert issued.status_code == 201, issued.text
            agent_a = agent_headers(http, cluster.a.url, office.users["agent"].email)
            agent_b = agent_headers(http, cluster.b.url, office.users["agent2"].email)
            g1, g2 = office.counters["g1"].id, office.counters["g2"].id
            assert http.post(f"{cluster.a.url}/api/v1/counters/{g1}/open", headers=agent_a).ok
            assert http.post(f"{cluster.b.url}/api/v1/counters/{g2}/open", headers=agent_b).ok

            def call(server: AppServer, counter: int, headers: dict[str, str]) -> str:
                # A call never waits for Redis (stock: 0.3 s of retries per event): answered,
                # within the bound of a hang (timeout), while Redis is down.
                response = http.post(
                    f"{server.url}/api/v1/counters/{counter}/call-next", headers=headers, timeout=10
                )
                assert response.status_code == 200, response.text
                return str(response.json()["label"])

            # Redis up: a call on A reaches both screens.
            first = call(cluster.a, g1, agent_a)
            wait_for("first call on A's screen", lambda: on_a.got_call(first))
            wait_for("first call on B's screen", lambda: on_b.got_call(first))

            cluster.redis.stop()
            during_a = call(cluster.a, g1, agent_a)
            during_b = call(cluster.b, g2, agent_b)
            # Committed, and announced by the screens of the process that made them.
            display = {"Authorization": f"Bearer {office.tokens['display']}"}
            board = http.get(f"{cluster.a.url}/api/v1/sites/{office.slug}/board", headers=display)
            assert board.status_code == 200
            assert {during_a, during_b} <= {c["label"] for c in board.json()["calls"]}
            wait_for("A's call on A's screen", lambda: on_a.got_call(during_a))
            wait_for("B's call on B's screen", lambda: on_b.got_call(during_b))
            assert not on_b.got_call(during_a)

            cluster.redis.start()
            # Each process resubscribes and asks its screens to resync: they catch up.
            wait_for("B's screen catches up with A's call", lambda: on_b.caught_up(during_a))
            wait_for("A's screen catches up with B's call", lambda: on_a.caught_up(during_b))

            # Each process publishes again (and then asks the other one's screens to
            # resync too: what it could not publish meanwhile reached its own only; a
            # process that was not subscribed yet resyncs its screens when it is).
            for server in (cluster.a, cluster.b):
                wait_for(
                    "publishing again",
                    lambda server=server: (
                        "publishing to Redis again" in server.log.read_text(errors="replace")
                    ),
                )
            # And the usual path works again.
            wait_for(
                "both servers subscribed",
                lambda: subscribers(cluster.redis.url, cluster.channel) == 2,
            )
            after = call(cluster.a, g1, agent_a)
            wait_for("a call after the outage on B's screen", lambda: on_b.got_call(after))
    finally:
        on_a.close()
        on_b.close()

    # One line when publishing failed, one when it worked again, per process: not one per event.
    log_a = cluster.a.log.read_text(errors="replace")
    assert log_a.count("cannot publish to Redis") == 1, log_a[-3000:]
    assert log_a.count("Traceback") == 0, log_a[-3000:]


@pytest.mark.slow
def test_a_revoked_display_is_dropped_on_every_server(redis_cluster: RedisCluster) -> None:
    import requests

    cluster = redis_cluster
    office = build_office(cluster.handle, "tivaouane")
    device_b, token_b = second_display(cluster, office)
    on_a = Display("a").connect(cluster.a.url, office.tokens["display"])
    on_b = Display("b").connect(cluster.b.url, token_b)
    try:
        wait_for(
            "both servers subscribed", lambda: subscribers(cluster.redis.url, cluster.channel) == 2
        )
        with requests.Session() as http:
            manager = agent_headers(http, cluster.a.url, office.users["manager"].email)
            revoked = http.post(
                f"{cluster.a.url}/api/v1/sites/{office.slug}/devices/{device_b}/revoke",
                headers=manager,
            )
            assert revoked.status_code == 200, revoked.text
        # Revoked through server A, dropped by server B (through Redis).
        assert on_b.disconnected.wait(WAIT), "the revoked display is still connected"
        assert on_a.sio.connected
        with cluster.handle.app_context():
            assert db.session.get(Device, device_b).revoked_at is not None
    finally:
        on_a.close()
        on_b.close()


# --- screens answer resync ------------------------------------------------------------------------


RESYNC_MS = 30_000


@pytest.mark.browser
@pytest.mark.slow
def test_the_console_and_the_tracking_page_fetch_again_on_resync(
    make_page: Any, live_server: Any, office: Office, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from .conftest import PHONE

    app = live_server.app
    url = live_server.url
    api = Api(app, office)
    tracked = api.issue("CNI")

    phone = make_page(PHONE)
    # What the tracking page's WebSocket receives: its answer to "track" (a Socket.IO
    # acknowledgement, 43<id>[...]) tells that it follows the ticket, resync included.
    received: list[str] = []
    phone.on(
        "websocket",
        lambda ws: ws.on(
            "framereceived",
            lambda frame: received.append(frame if isinstance(frame, str) else ""),
        ),
    )
    phone.goto(f"{url}/t/{tracked['code']}")
    expect(phone.locator("#track")).to_have_attribute("data-status", "waiting")
    wait_for(
        "the tracking page follows its ticket",
        lambda: (phone.wait_for_timeout(20), any(f.startswith("43") for f in received))[1],
    )

    console = make_page()
    console.goto(f"{url}/login")
    console.get_by_label("Adresse e-mail").fill(office.users["agent"].email)
    console.get_by_label("Mot de passe").fill(PASSWORD)
    console.get_by_role("button", name="Se connecter").click()
    card = console.locator(".counter-card", has=console.get_by_role("heading", name="Guichet 2"))
    # The console refreshes its panel once connected; the test goes on after that refresh.
    with console.expect_response(lambda response: response.url.endswith("/panel")):
        card.get_by_role("button", name="Ouvrir ce guichet").click()
    expect(console.locator("#live")).to_have_attribute("data-state", "on")
    cni = console.locator('[data-count-for="CNI"]')
    expect(cni).to_have_text("1")

    # What the server still has to push about the steps above is pushed now: pushed later
    # (a busy machine), it would read, and show, the silent changes below before the resync.
    app.extensions[events.PUBLISHER_KEY].publish_pending()

    # Changes the screens are not told about, as when Redis lost the events:
    # made through another process that has no way to push them.
    silent = Api(handle_on(app.config["DATABASE_URL"], tmp_path / "silent"), office)
    try:
        silent.issue("CNI")
        silent.issue("CNI")
        silent.open_counter("g1", as_="agent2")
        assert silent.call_next("g1", as_="agent2").get_json()["label"] == tracked["label"]
        expect(cni).to_have_text("1")
        expect(phone.locator("#track")).to_have_attribute("data-status", "waiting")

        app.extensions["socketio"].server.emit("resync", {"reason": "test"}, namespace="/")
        # Each page fetches again (the console after its 0.7 s debounce): waits on the pages,
        # bounded for a busy machine rather than Playwright's 5 s.
        expect(cni).to_have_text("2", timeout=RESYNC_MS)
        expect(phone.locator("#track")).to_have_attribute(
            "data-status", "called", timeout=RESYNC_MS
        )
        expect(phone.locator('[data-show="called"] [data-field="counter"]')).to_have_text(
            "Guichet 1"
        )
    finally:
        dispose(silent.app)


@pytest.mark.browser
@pytest.mark.slow
def test_the_console_comes_back_by_itself_after_a_database_outage(
    make_page: Any, own_postgres: PostgresServer, tmp_path: Path
) -> None:
    from playwright.sync_api import expect
    from werkzeug.serving import make_server

    from .conftest import shot

    app = create_app({**base_config(tmp_path, own_postgres.url), "UNAVAILABLE_RETRY_AFTER": 1})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        with app.app_context():
            upgrade_database()
        office = build_office(app)
        page = make_page()
        page.goto(f"{url}/login")
        page.get_by_label("Adresse e-mail").fill(office.users["agent"].email)
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        expect(page.get_by_role("heading", name="Choisissez votre guichet")).to_be_visible()

        own_postgres.stop()
        page.reload()
        expect(page.get_by_role("heading", name="Momentanément indisponible")).to_be_visible()
        shot(page, "unavailable-503")
        # The page retries by itself; once the database is back the agent is where they were.
        own_postgres.start()
        expect(page.get_by_role("heading", name="Choisissez votre guichet")).to_be_visible(
            timeout=20_000
        )
    finally:
        server.shutdown()
        thread.join(timeout=10)
        dispose(app)
