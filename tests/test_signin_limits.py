"""Sign-in limits that fit an office.

Failed password checks are counted per account and per client address, on the
web form and on POST /api/v1/auth/token alike: a whole office behind one NAT
address signs in at 08:00, while thirty wrong passwords for one account stop
that account only. The address comes from the reverse proxy's header only when
the proxy is declared trusted (TRUSTED_PROXIES). Redis keeps the counts in
production; when it is down, sign-in still works and counts in memory. No
other request pays anything for the limiter.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from queue_app import create_app
from queue_app.extensions import db, limiter
from queue_app.models import Role, Site, User

from .conftest import PASSWORD, PASSWORD_HASH, Office, base_config, dispose
from .servers import RedisServer, free_port

NAT = "196.207.1.10"  # the office's one public address
HOME = "41.82.77.3"  # an agent at home
PROXY = "127.0.0.1"  # the reverse proxy in front of the servers
LIMITED = {"RATELIMIT_ENABLED": True}
EIGHT_AM = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # Dakar is UTC+0


@pytest.fixture
def app_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The shipped limits, or those given with ``parametrize("app_config", ..., indirect=True)``."""
    return {**LIMITED, **dict(getattr(request, "param", {}))}


def add_agents(app: Flask, office: Office, count: int) -> list[str]:
    """``count`` more agents of the office; their e-mails."""
    emails = [f"agent{n:02d}@{office.slug}.sn" for n in range(1, count + 1)]
    with app.app_context():
        site = db.session.get(Site, office.site.id)
        for email in emails:
            db.session.add(
                User(email=email, password_hash=PASSWORD_HASH, role=Role.AGENT, sites=[site])
            )
        db.session.commit()
    return emails


class SignIn:
    """Signs in through the web form or the API, from a given address."""

    def __init__(self, app: Flask, how: str) -> None:
        self.app = app
        self.how = how

    def __call__(
        self,
        email: str,
        password: str = PASSWORD,
        address: str = NAT,
        headers: dict[str, str] | None = None,
        client: FlaskClient | None = None,
    ) -> Any:
        client = client or self.app.test_client()
        environ = {"REMOTE_ADDR": address}
        if self.how == "api":
            return client.post(
                "/api/v1/auth/token",
                json={"email": email, "password": password},
                headers=headers,
                environ_base=environ,
            )
        page = client.get("/login", environ_base=environ)
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        assert match, "no CSRF token in the sign-in form"
        form = {"csrf_token": match.group(1), "email": email, "password": password}
        return client.post("/login", data=form, headers=headers, environ_base=environ)

    def succeeded(self, response: Any) -> bool:
        return response.status_code == (200 if self.how == "api" else 302)

    def refused(self, response: Any) -> bool:
        return response.status_code == 401


@pytest.fixture(params=["web", "api"])
def sign_in(request: pytest.FixtureRequest, app: Flask) -> SignIn:
    return SignIn(app, request.param)


def assert_stopped(sign_in: SignIn, response: Any) -> None:
    """A 429 that tells the person what to do and when to come back."""
    assert response.status_code == 429, response.text[:300]
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 3600
    if sign_in.how == "api":
        error = response.get_json()["error"]
        assert error["code"] == "too_many_requests"
        assert error["message"]
        assert "token" not in response.get_json()
    else:
        assert response.mimetype == "text/html"
        # The sign-in page itself, with a clear message (French by default), not a bare error.
        assert 'name="password"' in response.text
        assert "Trop de tentatives" in response.text


# --- an office at 08:00 ---------------------------------------------------------------------


def test_twelve_agents_behind_one_address_all_sign_in_at_eight(
    app: Flask, office: Office, sign_in: SignIn
) -> None:
    emails = add_agents(app, office, 12)
    with time_machine.travel(EIGHT_AM, tick=True):
        for n, email in enumerate(emails):
            if n % 3 == 0:
                # Some mistype their password first, as people do at 08:00.
                assert sign_in.refused(sign_in(email, "wrong password")), email
            response = sign_in(email)
            assert sign_in.succeeded(response), (email, response.status_code)


def test_thirty_wrong_passwords_stop_that_account_and_nobody_else(
    app: Flask, office: Office, sign_in: SignIn
) -> None:
    emails = add_agents(app, office, 12)
    target = office.users["agent"].email
    statuses = [sign_in(target, f"guess {n}").status_code for n in range(30)]
    assert set(statuses) == {401, 429}, statuses
    first = statuses.index(429)
    assert 3 <= first <= 10, statuses  # a few typos are forgiven
    assert statuses[first:] == [429] * (30 - first), "once stopped, stays stopped"
    # Even the right password waits now, from anywhere: the account is what is guessed.
    assert_stopped(sign_in, sign_in(target))
    assert_stopped(sign_in, sign_in(target, address=HOME))
    # The rest of the office, behind the same address, signs in as usual.
    for email in [office.users["agent2"].email, *emails]:
        assert sign_in.succeeded(sign_in(email)), email


def test_the_account_waits_only_for_a_while(app: Flask, office: Office, sign_in: SignIn) -> None:
    target = office.users["agent"].email
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        responses = [sign_in(target, f"guess {n}") for n in range(8)]
        assert responses[-1].status_code == 429
        wait = int(responses[-1].headers["Retry-After"])
        clock.shift(wait + 1)
        assert sign_in.succeeded(sign_in(target))


@pytest.mark.parametrize(
    "app_config", [{**LIMITED, "SIGNIN_LIMIT_ADDRESS": "30 per hour"}], indirect=True
)
def test_many_accounts_guessed_from_one_address_stop_that_address(
    app: Flask, office: Office, sign_in: SignIn
) -> None:
    # The shipped bound is hundreds an hour (too many password checks for a test);
    # a spray is stopped the same way at a smaller one.
    statuses = [sign_in(f"nobody{n}@{office.slug}.sn", "password1").status_code for n in range(40)]
    assert statuses[-1] == 429, statuses
    assert_stopped(sign_in, sign_in(office.users["agent"].email, address=NAT))
    # Another address is not concerned.
    assert sign_in.succeeded(sign_in(office.users["agent"].email, address=HOME))


@pytest.mark.parametrize(
    "app_config", [{**LIMITED, "SIGNIN_LIMIT_ADDRESS": "30 per hour"}], indirect=True
)
def test_a_forged_forwarded_header_is_ignored_without_a_trusted_proxy(
    app: Flask, office: Office, sign_in: SignIn
) -> None:
    statuses = []
    for n in range(40):
        forged = {"X-Forwarded-For": f"10.0.{n}.1"}
        response = sign_in(f"nobody{n}@{office.slug}.sn", "password1", headers=forged)
        statuses.append(response.status_code)
    # Each request claimed another address: the limit still saw one, and stopped it.
    assert statuses[-1] == 429, statuses


@pytest.mark.parametrize(
    "app_config",
    [{**LIMITED, "TRUSTED_PROXIES": 1, "SIGNIN_LIMIT_ADDRESS": "30 per hour"}],
    indirect=True,
)
def test_behind_a_trusted_proxy_the_forwarded_address_counts(
    app: Flask, office: Office, sign_in: SignIn
) -> None:
    spray = {"X-Forwarded-For": NAT}
    statuses = [
        sign_in(f"nobody{n}@{office.slug}.sn", "x" * 9, address=PROXY, headers=spray).status_code
        for n in range(40)
    ]
    assert statuses[-1] == 429, statuses
    # Everybody comes through the proxy's address; only the guessing client waits.
    home = {"X-Forwarded-For": HOME}
    assert sign_in.succeeded(sign_in(office.users["agent"].email, address=PROXY, headers=home))
    # The last proxy's entry is the one trusted: a client cannot prepend its own.
    forged = {"X-Forwarded-For": f"{HOME}, {NAT}"}
    assert_stopped(sign_in, sign_in(office.users["agent"].email, address=PROXY, headers=forged))


@pytest.mark.parametrize(
    "app_config",
    [{**LIMITED, "SIGNIN_LIMIT_ACCOUNT": "2 per minute", "SIGNIN_LIMIT_ADDRESS": "3 per hour"}],
    indirect=True,
)
def test_the_limits_follow_the_settings(app: Flask, office: Office, sign_in: SignIn) -> None:
    target = office.users["agent"].email
    assert [sign_in(target, "wrong").status_code for _ in range(3)] == [401, 401, 429]
    assert sign_in(office.users["agent2"].email, "wrong").status_code == 401
    assert_stopped(sign_in, sign_in(office.users["agent2"].email))


def test_an_office_morning_of_typos_never_stops_its_address(
    app: Flask, office: Office, sign_in: SignIn
) -> None:
    # Twenty agents behind the NAT address, each mistyping twice within the same
    # minute: forty failures from one address is an ordinary morning, not an attack.
    emails = add_agents(app, office, 20)
    with time_machine.travel(EIGHT_AM, tick=False):
        for email in emails:
            for typo in ("azerty", "Azerty1"):
                assert sign_in.refused(sign_in(email, typo)), email
        for email in emails:
            assert sign_in.succeeded(sign_in(email)), email


# --- browsers that signed in before (web form) --------------------------------------------------

SMALL_ADDRESS_BOUND = {**LIMITED, "SIGNIN_LIMIT_ADDRESS": "10 per hour"}


def office_browser(app: Flask, email: str) -> FlaskClient:
    """A browser of the office in which the agent signed in yesterday (then signed out)."""
    browser = app.test_client()
    web = SignIn(app, "web")
    with time_machine.travel(EIGHT_AM - timedelta(days=1), tick=True):
        assert web.succeeded(web(email, client=browser))
    browser.delete_cookie("session")
    return browser


@pytest.mark.parametrize("app_config", [SMALL_ADDRESS_BOUND], indirect=True)
def test_a_spray_behind_the_office_address_does_not_lock_out_its_known_browsers(
    app: Flask, office: Office
) -> None:
    web = SignIn(app, "web")
    agent, agent2 = office.users["agent"].email, office.users["agent2"].email
    browser = office_browser(app, agent)
    with time_machine.travel(EIGHT_AM, tick=True):
        statuses = [web(f"nobody{n}@{office.slug}.sn", "password1").status_code for n in range(12)]
        assert statuses[-1] == 429, statuses  # the spray is stopped
        # The agent's own browser signs in as usual from the same address...
        assert web.succeeded(web(agent, client=browser))
        # ...while a browser that never signed in here waits, and is told why.
        assert_stopped(web, web(agent2))


@pytest.mark.parametrize("sign_in", ["web"], indirect=True)
def test_a_stranger_guessing_an_agents_password_does_not_lock_the_agent_out(
    app: Flask, office: Office, sign_in: SignIn
) -> None:
    agent = office.users["agent"].email
    browser = office_browser(app, agent)
    with time_machine.travel(EIGHT_AM, tick=True):
        statuses = [sign_in(agent, f"guess {n}", address=HOME).status_code for n in range(8)]
        assert statuses[-1] == 429, statuses  # the guessing is stopped
        assert_stopped(sign_in, sign_in(agent))  # and a new browser waits
        assert sign_in.succeeded(sign_in(agent, client=browser))


@pytest.mark.parametrize("sign_in", ["web"], indirect=True)
def test_a_known_browser_still_stops_guessing_and_vouches_for_its_own_accounts_only(
    app: Flask, office: Office, sign_in: SignIn
) -> None:
    agent, agent2 = office.users["agent"].email, office.users["agent2"].email
    browser = office_browser(app, agent)
    # A cookie made up by a client vouches for nothing.
    forged = app.test_client()
    forged.set_cookie("guichet_known_browser", "eyJiIjoieCIsImEiOltdfQ.forged.sig", path="/login")
    with time_machine.travel(EIGHT_AM, tick=True):
        # Both accounts guessed from elsewhere: their shared counts are full.
        for email in (agent, agent2):
            for n in range(6):
                sign_in(email, f"guess {n}", address=HOME)
        # Another account, from that browser: counted as everywhere else.
        assert_stopped(sign_in, sign_in(agent2, client=browser))
        assert_stopped(sign_in, sign_in(agent, client=forged))
        assert_stopped(sign_in, sign_in(agent2, client=forged))
        # Its own account: a few wrong passwords, then it waits too.
        statuses = [sign_in(agent, f"guess {n}", client=browser).status_code for n in range(8)]
        assert statuses[-1] == 429, statuses
        assert 3 <= statuses.index(429) <= 6, statuses


# --- storage ------------------------------------------------------------------------------------


@pytest.fixture
def two_processes(tmp_path: Any, sqlite_template: Any, make_office: Callable[..., Office]) -> Any:
    """Factory of two apps (two server processes) on one database with the given limit store."""
    import shutil

    path = tmp_path / "shared.db"
    shutil.copy(sqlite_template, path)
    made: list[Flask] = []

    def build(storage_uri: str) -> tuple[Flask, Flask, Office]:
        prefix = f"guichet-test-{uuid.uuid4().hex[:8]}"
        apps = []
        for name in ("a", "b"):
            folder = tmp_path / name
            folder.mkdir(exist_ok=True)
            config = {
                **base_config(folder, f"sqlite:///{path}"),
                **LIMITED,
                "RATELIMIT_STORAGE_URI": storage_uri,
                "RATELIMIT_KEY_PREFIX": prefix,
            }
            apps.append(create_app(config))
        made.extend(apps)
        return apps[0], apps[1], make_office(apps[0])

    yield build
    for application in made:
        dispose(application)


@pytest.mark.redis
def test_counts_are_shared_by_the_server_processes_through_redis(
    two_processes: Any, redis_channel: tuple[str, str]
) -> None:
    redis_url, _ = redis_channel
    a, b, office = two_processes(redis_url)
    target = office.users["agent"].email
    on_a, on_b = SignIn(a, "api"), SignIn(b, "api")
    statuses = []
    for n in range(10):
        statuses.append((on_a if n % 2 else on_b)(target, f"guess {n}").status_code)
    assert statuses[-1] == 429, statuses
    # Stopped on both: the second process knows what the first one counted.
    assert on_a(target).status_code == 429
    assert on_b(target).status_code == 429
    assert on_b(office.users["agent2"].email).status_code == 200


def test_sign_in_works_while_the_limit_store_is_down(
    two_processes: Any, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    redis = RedisServer(tmp_path)  # not started yet: its port refuses connections
    a, _, office = two_processes(redis.url)
    a.config["RATELIMIT_STORAGE_RETRY_SECONDS"] = 0  # look for Redis again at every sign-in
    web, api = SignIn(a, "web"), SignIn(a, "api")
    caplog.set_level(logging.INFO)
    try:
        # Today: a 500 for every sign-in while Redis is down.
        assert web.succeeded(web(office.users["agent"].email))
        assert api.succeeded(api(office.users["agent2"].email))
        # The limits still hold, counted in this process's memory meanwhile.
        target = office.users["manager"].email
        statuses = [api(target, f"guess {n}").status_code for n in range(12)]
        assert statuses[-1] == 429, statuses
        down = [r for r in caplog.records if "limit" in r.getMessage().lower()]
        assert len(down) == 1, [r.getMessage() for r in down]
        assert down[0].levelno == logging.WARNING
        assert not any(r.exc_info for r in caplog.records), "no traceback per sign-in"

        # Redis comes back: counts go to it again (and it is said once).
        redis.start()
        admin = office.users["admin"].email
        assert api.succeeded(api(admin))
        back = [r for r in caplog.records if "limit" in r.getMessage().lower()]
        assert len(back) == 2, [r.getMessage() for r in back]
        for n in range(12):
            api(admin, f"guess {n}")
        import redis as redis_client

        keys = redis_client.Redis.from_url(redis.url).keys("*")
        assert keys, "failed sign-ins are counted in Redis again"
    finally:
        redis.stop()


def test_an_unreachable_store_does_not_slow_sign_in(two_processes: Any) -> None:
    # A closed port refuses at once; the counts then stay in memory for a while
    # instead of trying Redis on every sign-in.
    port = free_port()
    a, _, office = two_processes(f"redis://127.0.0.1:{port}/0")
    api = SignIn(a, "api")
    for who in ("agent", "agent2", "manager"):
        assert api.succeeded(api(office.users[who].email))
    assert a.extensions["signin_limits"].storage_down


# --- what the limiter costs the other requests ----------------------------------------------------


def _limiter_hooks(app: Flask) -> list[str]:
    hooks = [
        *app.before_request_funcs.get(None, []),
        *app.after_request_funcs.get(None, []),
        *app.teardown_request_funcs.get(None, []),
    ]
    names = []
    for hook in hooks:
        target = getattr(hook, "func", hook)  # functools.partial
        module = getattr(target, "__module__", "") or ""
        owner = getattr(getattr(target, "__self__", None), "__class__", type(None)).__module__
        if "flask_limiter" in module or "flask_limiter" in owner:
            names.append(getattr(target, "__qualname__", repr(target)))
    return names


def test_no_request_pays_for_the_limiter_before_its_view(app: Flask, office: Office) -> None:
    # Flask-Limiter's own before_request hook ran on every request (every board
    # read of every display, every kiosk ticket) to find out that no limit applied.
    assert _limiter_hooks(app) == []


@pytest.mark.parametrize("store", ["memory", "redis-down"])
def test_a_limit_declared_on_a_view_still_applies(
    tmp_path: Any, sqlite_template: Any, store: str
) -> None:
    import shutil

    path = tmp_path / "g.db"
    shutil.copy(sqlite_template, path)
    uri = "memory://" if store == "memory" else f"redis://127.0.0.1:{free_port()}/0"
    application = create_app(
        {**base_config(tmp_path, f"sqlite:///{path}"), **LIMITED, "RATELIMIT_STORAGE_URI": uri}
    )
    try:

        @application.get("/limited-for-test")
        @limiter.limit("2 per minute")
        def limited() -> str:
            return "ok"

        client = application.test_client()
        assert [client.get("/limited-for-test").status_code for _ in range(3)] == [200, 200, 429]
        assert client.get("/healthz").status_code == 200
    finally:
        dispose(application)


@pytest.mark.browser
@pytest.mark.slow
def test_the_sign_in_page_says_how_long_to_wait(
    make_page: Callable[..., Any], live_server: Any, office: Office
) -> None:
    from playwright.sync_api import expect

    from .conftest import shot

    page = make_page()
    page.goto(f"{live_server.url}/login")
    for n in range(6):
        page.get_by_label("Adresse e-mail").fill(office.users["agent"].email)
        page.get_by_label("Mot de passe").fill(f"mauvais {n}")
        page.get_by_role("button", name="Se connecter").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Trop de tentatives de connexion. Patientez 1 minute")
    expect(alert).to_contain_text("demandez-en un nouveau à votre responsable")
    # The form is still there, filled in, for when the wait is over.
    expect(page.get_by_label("Adresse e-mail")).to_have_value(office.users["agent"].email)
    shot(page, "login-too-many-attempts")
