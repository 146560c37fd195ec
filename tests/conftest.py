"""Fixtures: an app on a fresh SQLite file per test, PostgreSQL per run, office factories."""

from __future__ import annotations

import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from werkzeug.security import generate_password_hash

from queue_app import create_app
from queue_app.cli.commands import upgrade_database
from queue_app.extensions import db
from queue_app.models import Base, Counter, DeviceKind, Role, Service, Site, User
from queue_app.queue.accounts import create_device
from queue_app.queue.sites import create_counter, create_service, create_site
from queue_app.realtime import events

PASSWORD = "correct horse battery"
# Hashed once, cheaply: the production scrypt hash takes tens of milliseconds per check.
PASSWORD_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
PG_URL = os.environ.get(
    "QUEUE_APP_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


# QUEUE_APP_TEST_START=23:59:58 starts every test at that time of today, UTC (the clock then
# runs): how a test that depends on the hour of the day is caught before midnight does it.
TEST_START = os.environ.get("QUEUE_APP_TEST_START")


@pytest.fixture(autouse=True)
def _test_start() -> Iterator[None]:
    if not TEST_START:
        yield
        return
    start = datetime.combine(datetime.now(UTC).date(), time.fromisoformat(TEST_START), UTC)
    with time_machine.travel(start, tick=True):
        yield


def base_config(instance: Path, database_url: str) -> dict[str, Any]:
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "PUBLIC_URL": "http://testserver",
        "RATELIMIT_ENABLED": False,
        "REDIS_URL": None,
    }


def dispose(app: Flask) -> None:
    app.extensions[events.PUBLISHER_KEY].stop()
    app.extensions["queue_app.print_worker"].stop()
    if "queue_app.device_seen" in app.extensions:  # ops/devices.py: its flushing thread
        app.extensions["queue_app.device_seen"].stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# --- SQLite -------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    folder = tmp_path_factory.mktemp("template")
    path = folder / "template.db"
    app = create_app(base_config(folder, f"sqlite:///{path}"))
    with app.app_context():
        upgrade_database()
    dispose(app)
    return path


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Override in a test module to change settings."""
    return {}


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path, app_config: dict[str, Any]) -> Iterator[Flask]:
    path = tmp_path / "guichet.db"
    shutil.copy(sqlite_template, path)
    application = create_app({**base_config(tmp_path, f"sqlite:///{path}"), **app_config})
    yield application
    dispose(application)


# --- PostgreSQL ---------------------------------------------------------------


def _postgres_available() -> bool:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 2})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh PostgreSQL database for this test run (and xdist worker), migrated once."""
    if not _postgres_available():
        _require("QUEUE_APP_REQUIRE_POSTGRES", f"PostgreSQL is not reachable at {PG_URL}")
    name = f"guichet_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    folder = tmp_path_factory.mktemp("pg")
    app = create_app(base_config(folder, url))
    with app.app_context():
        upgrade_database()
    dispose(app)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def truncate_all(application: Flask) -> None:
    tables = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))
    with application.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def pg_app(postgres_url: str, tmp_path: Path, app_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app({**base_config(tmp_path, postgres_url), **app_config})
    truncate_all(application)
    yield application
    # No publisher query may hold a lock while the tables are truncated.
    application.extensions[events.PUBLISHER_KEY].stop()
    application.extensions["queue_app.print_worker"].stop()
    truncate_all(application)
    dispose(application)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_app(request: pytest.FixtureRequest) -> Flask:
    """The same test on the embedded SQLite default and on PostgreSQL."""
    return request.getfixturevalue("app" if request.param == "sqlite" else "pg_app")


@contextmanager
def count_statements(application: Flask) -> Iterator[list[str]]:
    """The SQL statements this thread sends to the app's database inside the block.

    Transaction control (BEGIN, COMMIT) is left out; other threads (the state
    publisher) are not counted.
    """
    with application.app_context():
        engine = db.engine
    me = threading.get_ident()
    statements: list[str] = []

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.get_ident() == me and not statement.lstrip().upper().startswith("BEGIN"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)


# --- the office ---------------------------------------------------------------


@dataclass
class Office:
    """A site with services, counters, users and devices, and their tokens."""

    app: Flask
    site: Site
    services: dict[str, Service]
    counters: dict[str, Counter]
    users: dict[str, User]
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return self.site.slug


def build_office(
    application: Flask,
    slug: str = "thies",
    timezone: str = "Africa/Dakar",
) -> Office:
    """Two services, three counters, an admin, a manager, two agents, a kiosk and a display."""
    with application.app_context():
        session = db.session
        site = create_site(session, slug, f"Espace Sénégal Services {slug}", timezone)
        casier = create_service(
            session,
            site,
            "CASIER",
            names={"fr": "Casier judiciaire", "en": "Criminal record"},
            prefix="A",
            avg_service_minutes=6,
        )
        cni = create_service(
            session,
            site,
            "CNI",
            names={"fr": "Carte nationale d'identité", "en": "National identity card"},
            prefix="B",
            avg_service_minutes=8,
        )
        counters = {
            "g1": create_counter(session, site, "Guichet 1", [(casier, 1), (cni, 1)]),
            "g2": create_counter(session, site, "Guichet 2", [(cni, 1)]),
            "g3": create_counter(session, site, "Guichet 3", [(casier, 1)]),
        }
        users = {
            "admin": _user(session, f"admin-{slug}@example.sn", Role.ADMIN, []),
            "manager": _user(session, f"manager@{slug}.sn", Role.MANAGER, [site]),
            "agent": _user(session, f"agent@{slug}.sn", Role.AGENT, [site]),
            "agent2": _user(session, f"agent2@{slug}.sn", Role.AGENT, [site]),
        }
        tokens = {}
        for kind in DeviceKind:
            _, tokens[kind.value] = create_device(session, site, kind, f"{kind.value} {slug}")
        session.commit()
        office = Office(
            app=application,
            site=site,
            services={"CASIER": casier, "CNI": cni},
            counters=counters,
            users=users,
            tokens=tokens,
        )
        # Keep plain ids usable after the session closes.
        for obj in [site, casier, cni, *counters.values(), *users.values()]:
            session.refresh(obj)
            session.expunge(obj)
    return office


def _user(session: Any, email: str, role: Role, sites: list[Site]) -> User:
    user = User(
        email=email,
        password_hash=PASSWORD_HASH,
        role=role,
        full_name=email.split("@")[0].title(),
        sites=sites,
    )
    session.add(user)
    session.flush()
    return user


@pytest.fixture
def office(app: Flask) -> Office:
    return build_office(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Api:
    """Calls /api/v1 with a bearer token; a user's token is fetched on first use."""

    def __init__(self, application: Flask, office: Office | None = None) -> None:
        self.app = application
        self.client = application.test_client()
        self.office = office
        self._user_tokens: dict[str, str] = {}

    def token(self, who: str | None) -> str | None:
        if who is None:
            return None
        if who.startswith(("gd_", "gu_")) or self.office is None:
            return who
        if who in self.office.tokens:
            return self.office.tokens[who]
        if who not in self._user_tokens:
            email = self.office.users[who].email
            response = self.client.post(
                "/api/v1/auth/token", json={"email": email, "password": PASSWORD}
            )
            assert response.status_code == 200, response.get_json()
            self._user_tokens[who] = response.get_json()["token"]
        return self._user_tokens[who]

    def request(self, method: str, path: str, as_: str | None = None, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}) or {})
        token = self.token(as_)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = path if path.startswith("/") else f"/api/v1/{path}"
        return self.client.open(url, method=method, headers=headers, **kwargs)

    def get(self, path: str, as_: str | None = None, **kwargs: Any) -> Any:
        return self.request("GET", path, as_, **kwargs)

    def post(self, path: str, as_: str | None = None, **kwargs: Any) -> Any:
        return self.request("POST", path, as_, **kwargs)

    def put(self, path: str, as_: str | None = None, **kwargs: Any) -> Any:
        return self.request("PUT", path, as_, **kwargs)

    def patch(self, path: str, as_: str | None = None, **kwargs: Any) -> Any:
        return self.request("PATCH", path, as_, **kwargs)

    # Shortcuts for the common steps of a scenario.
    def issue(self, service: str = "CNI", as_: str = "kiosk", **body: Any) -> dict[str, Any]:
        assert self.office is not None
        response = self.post(
            f"sites/{self.office.slug}/tickets", as_, json={"service": service, **body}
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def open_counter(self, counter: str = "g1", as_: str = "agent") -> dict[str, Any]:
        assert self.office is not None
        counter_id = self.office.counters[counter].id
        response = self.post(f"counters/{counter_id}/open", as_)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def call_next(self, counter: str = "g1", as_: str = "agent") -> Any:
        assert self.office is not None
        return self.post(f"counters/{self.office.counters[counter].id}/call-next", as_)


@pytest.fixture
def api(app: Flask, office: Office) -> Api:
    return Api(app, office)


@pytest.fixture
def make_office() -> Callable[..., Office]:
    return build_office


# --- services the slower tests need --------------------------------------------------


def _require(env: str, reason: str) -> None:
    if os.environ.get(env) == "1":
        pytest.fail(f"{reason} (required by {env}=1)")
    pytest.skip(reason)


REDIS_URL = os.environ.get("QUEUE_APP_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_channel() -> Iterator[tuple[str, str]]:
    """(Redis URL, a Socket.IO channel of this test's own); skips when Redis is down."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        _require("QUEUE_APP_REQUIRE_REDIS", f"Redis is not reachable at {REDIS_URL}")
    channel = f"guichet-test-{uuid.uuid4().hex[:10]}"
    yield REDIS_URL, channel
    client.close()


CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
LAPTOP = {"width": 1366, "height": 768}
TV_LANDSCAPE = {"width": 1920, "height": 1080}
TV_PORTRAIT = {"width": 1080, "height": 1920}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 5000  # upper bound for one change to show, never a pause


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not os.path.exists(CHROMIUM):
        _require("QUEUE_APP_REQUIRE_BROWSER", f"{CHROMIUM} is not installed (make browser)")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (one per test module)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def make_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Open pages in fresh contexts; a JavaScript error or CSP violation fails the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_page(viewport: dict[str, int] | None = None, locale: str = "fr-FR", **options: Any):
        context = browser.new_context(viewport=viewport or LAPTOP, locale=locale, **options)
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        new = context.new_page()
        new.on("pageerror", lambda error: errors.append(str(error)))
        new.on(
            "console",
            lambda message: (
                errors.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        return new

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors or CSP violations on the page: {errors}"


@pytest.fixture
def page(make_page: Callable[..., Any]) -> Any:
    """A laptop-sized page in French."""
    return make_page()


def shot(page: Any, name: str, full_page: bool = True) -> None:
    """A screenshot in artifacts/screenshots/ for people to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


SCREENS = ({"width": 1366, "height": 768}, {"width": 1920, "height": 1080})
TOUCH_PX = 24  # the smallest target a finger or a shaky mouse hits (WCAG 2.5.8)

_FITS_JS = """(element) => {
  const r = element.getBoundingClientRect();
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  const hit = document.elementFromPoint(x, y);
  return {
    connected: element.isConnected,
    left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height,
    innerWidth: innerWidth, innerHeight: innerHeight,
    reachable: hit !== null && (hit === element || element.contains(hit)),
    covered_by: hit && !element.contains(hit) ? hit.outerHTML.slice(0, 80) : null,
  };
}"""


def assert_fits(page: Any, *needed: Any, scroll: bool = False) -> None:
    """The page does not scroll sideways, and each needed control (a Playwright locator) is
    wholly on screen (after scrolling down to it, with ``scroll``), big enough to touch, and
    the one a click at its middle lands on."""
    wide, inner = page.evaluate("[document.scrollingElement.scrollWidth, innerWidth]")
    assert wide <= inner, f"{page.url} scrolls sideways: {wide} px wide in a {inner} px window"
    for locator in needed:
        if scroll:
            locator.scroll_into_view_if_needed()
        locator.wait_for(state="visible")
        box = locator.evaluate(_FITS_JS)
        for _ in range(20):  # the console's live refresh replaced it meanwhile: the new one
            if box["connected"]:
                break
            locator.wait_for(state="visible")
            box = locator.evaluate(_FITS_JS)
        where = f"{locator} on {page.url}: {box}"
        assert box["left"] >= 0, where
        assert box["right"] <= box["innerWidth"], where
        assert box["top"] >= 0, where
        assert box["bottom"] <= box["innerHeight"], where
        assert box["width"] >= TOUCH_PX, where
        assert box["height"] >= TOUCH_PX, where
        assert box["reachable"], where


@dataclass
class LiveServer:
    app: Flask
    url: str


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """The app served over real HTTP and WebSocket on 127.0.0.1, in a thread."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app=app, url=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)


# --- The count, as people read it ----------------------------------------------


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how many test functions ran and how many cases their parameters make."""
    outcomes: dict[str, str] = {}
    for name in ("passed", "failed", "error", "skipped", "xfailed", "xpassed"):
        for report in terminalreporter.stats.get(name, []):
            nodeid = getattr(report, "nodeid", "")
            if nodeid and (report.when == "call" or name in ("error", "skipped")):
                outcomes.setdefault(nodeid, name)
    if not outcomes:
        return
    functions = {nodeid.split("[", 1)[0] for nodeid in outcomes}
    parametrized = sum(1 for nodeid in outcomes if "[" in nodeid)
    terminalreporter.write_line(
        f"{len(functions)} test functions, {len(outcomes)} cases "
        f"({parametrized} of them from parametrized functions)"
    )


# --- Reconnection -------------------------------------------------------------

AGENT_JS = Path(__file__).parent.parent / "queue_app" / "static" / "js" / "agent.js"
DISPLAY_JS = Path(__file__).parent.parent / "display" / "static" / "tv" / "display.js"


def reconnect_bound_ms(script: Path) -> int:
    """The longest a page may take to reconnect once the network is back.

    An attempt made while the network was down may have been accepted and then dropped
    (as the tests' network switch does): Socket.IO gives it up only at its connection
    timeout (the page's ``timeout``, 20 s by default), not at once. It then waits at most
    the page's reconnectionDelayMax, give or take its 50 % jitter; the socket connects and
    the page reloads its state (allow five seconds on a busy machine).
    """
    text = script.read_text()
    found = re.search(r"reconnectionDelayMax:\s*(\d+)", text)
    assert found, f"{script.name} sets its reconnection backoff"
    connect_timeout = re.search(r"\btimeout:\s*(\d+)", text)
    stalled = int(connect_timeout.group(1)) if connect_timeout else 20_000
    return stalled + int(int(found.group(1)) * 1.5) + 5000
