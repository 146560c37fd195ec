"""Sessions and tokens that end.

"Stay signed in" gives a fresh, revocable value at each sign-in; signing out
ends it; a password change or a deactivation ends every session, "stay signed
in" cookie and API token of the user; cookies carry the Secure (when
configured), HttpOnly and SameSite flags; a revoked or rotated device token
drops its open Socket.IO connection; pages carry the security headers.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from queue_app.extensions import socketio
from queue_app.models import DeviceKind

from .conftest import PASSWORD, Api, Office

REMEMBER = "remember_token"
SESSION = "session"
NEW_PASSWORD = "un nouveau mot de passe"


@pytest.fixture
def app_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    return dict(getattr(request, "param", {}))


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(
    client: FlaskClient, email: str, password: str = PASSWORD, remember: bool = False
) -> Any:
    form = {"csrf_token": csrf_token(client), "email": email, "password": password}
    if remember:
        form["remember"] = "y"
    response = client.post("/login", data=form)
    assert response.status_code == 302, response.text[:300]
    return response


def sign_out(client: FlaskClient) -> None:
    token = csrf_token(client, "/agent/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302


def cookie(client: FlaskClient, name: str) -> str:
    found = client.get_cookie(name)
    assert found is not None, f"no {name} cookie"
    return found.value


def browser_with(app: Flask, **cookies: str) -> FlaskClient:
    """A new browser holding only the given cookies (copied, or kept from a previous day)."""
    client = app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def opens_console(client: FlaskClient) -> bool:
    response = client.get("/agent/")
    if response.status_code == 200:
        return True
    assert response.status_code == 302, response.status_code
    assert "/login" in response.headers["Location"]
    return False


def set_cookie_headers(response: Any) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


# --- "stay signed in" ---------------------------------------------------------------------


def test_stay_signed_in_gives_a_fresh_value_at_each_sign_in(app: Flask, office: Office) -> None:
    values = []
    for _ in range(2):
        client = app.test_client()
        sign_in(client, office.users["agent"].email, remember=True)
        values.append(cookie(client, REMEMBER))
    assert values[0] != values[1]
    # Each opens the console on its own, as in a browser reopened the next morning.
    for value in values:
        assert opens_console(browser_with(app, **{REMEMBER: value}))


def test_signing_out_ends_the_session_and_its_remember_cookie(app: Flask, office: Office) -> None:
    client = app.test_client()
    sign_in(client, office.users["agent"].email, remember=True)
    kept = {SESSION: cookie(client, SESSION), REMEMBER: cookie(client, REMEMBER)}
    other = app.test_client()  # the same agent on another computer
    sign_in(other, office.users["agent"].email, remember=True)

    sign_out(client)
    assert not opens_console(client)
    # Copies of the cookies taken before signing out open nothing any more.
    assert not opens_console(browser_with(app, **{REMEMBER: kept[REMEMBER]}))
    assert not opens_console(browser_with(app, **{SESSION: kept[SESSION]}))
    # Signing out on one computer leaves the other one signed in.
    assert opens_console(other)


def test_a_password_change_ends_every_session_and_token(
    app: Flask, office: Office, api: Api
) -> None:
    agent = office.users["agent"]
    remembered = app.test_client()
    sign_in(remembered, agent.email, remember=True)
    remember_value = cookie(remembered, REMEMBER)
    plain = app.test_client()
    sign_in(plain, agent.email)
    token = api.token("agent")
    assert api.get("sites", token).status_code == 200
    admin_browser = app.test_client()
    sign_in(admin_browser, office.users["admin"].email)

    changed = api.patch(f"users/{agent.id}", "admin", json={"password": NEW_PASSWORD})
    assert changed.status_code == 200, changed.get_json()

    assert not opens_console(plain)
    assert not opens_console(remembered)
    assert not opens_console(browser_with(app, **{REMEMBER: remember_value}))
    assert api.get("sites", token).status_code == 401
    # The new password works; other people's sessions are untouched.
    fresh = app.test_client()
    sign_in(fresh, agent.email, NEW_PASSWORD)
    assert opens_console(fresh)
    assert opens_console(admin_browser)


def test_a_deactivated_user_is_signed_out_everywhere_for_good(
    app: Flask, office: Office, api: Api
) -> None:
    agent = office.users["agent"]
    browser = app.test_client()
    sign_in(browser, agent.email, remember=True)
    remember_value = cookie(browser, REMEMBER)
    token = api.token("agent")

    assert api.patch(f"users/{agent.id}", "admin", json={"is_active": False}).status_code == 200
    assert not opens_console(browser)
    assert api.get("sites", token).status_code == 401

    # Active again: nothing given before the deactivation comes back to life.
    assert api.patch(f"users/{agent.id}", "admin", json={"is_active": True}).status_code == 200
    assert not opens_console(browser_with(app, **{REMEMBER: remember_value}))
    assert api.get("sites", token).status_code == 401
    again = app.test_client()
    sign_in(again, agent.email)
    assert opens_console(again)


def test_the_remember_cookie_lasts_the_configured_days(app: Flask, office: Office) -> None:
    signed_in_at = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    with time_machine.travel(signed_in_at, tick=False):
        client = app.test_client()
        response = sign_in(client, office.users["agent"].email, remember=True)
        value = cookie(client, REMEMBER)
    header = set_cookie_headers(response)[REMEMBER]
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", header).group(1))
    assert expires == signed_in_at + timedelta(days=30)
    with time_machine.travel(signed_in_at + timedelta(days=29), tick=False):
        assert opens_console(browser_with(app, **{REMEMBER: value}))
    # Past its days, a copy kept of the cookie opens nothing (the server says so, not the browser).
    with time_machine.travel(signed_in_at + timedelta(days=30, minutes=1), tick=False):
        assert not opens_console(browser_with(app, **{REMEMBER: value}))


def test_a_session_without_remember_ends_after_its_lifetime(app: Flask, office: Office) -> None:
    signed_in_at = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    with time_machine.travel(signed_in_at, tick=False):
        client = app.test_client()
        sign_in(client, office.users["agent"].email)
        assert client.get_cookie(REMEMBER) is None
        value = cookie(client, SESSION)
    with time_machine.travel(signed_in_at + timedelta(hours=11), tick=False):
        assert opens_console(browser_with(app, **{SESSION: value}))
    with time_machine.travel(signed_in_at + timedelta(hours=12, minutes=1), tick=False):
        assert not opens_console(browser_with(app, **{SESSION: value}))


@pytest.mark.parametrize(
    ("app_config", "secure"),
    [
        ({}, False),
        ({"SESSION_COOKIE_SECURE": True}, True),
        ({"PUBLIC_URL": "https://guichet.example.sn"}, True),
        ({"PUBLIC_URL": "https://guichet.example.sn", "SESSION_COOKIE_SECURE": False}, False),
    ],
    indirect=["app_config"],
    ids=["http", "secure", "https-public-url", "https-but-off"],
)
def test_session_and_remember_cookies_carry_their_flags(
    app: Flask, office: Office, secure: bool
) -> None:
    client = app.test_client()
    base = "https://localhost" if secure else "http://localhost"
    form = {
        "csrf_token": csrf_token(client),
        "email": office.users["agent"].email,
        "password": PASSWORD,
        "remember": "y",
    }
    response = client.post("/login", data=form, base_url=base, headers={"Referer": base + "/"})
    assert response.status_code == 302, response.text[:300]
    headers = set_cookie_headers(response)
    for name in (SESSION, REMEMBER):
        flags = [part.strip().lower() for part in headers[name].split(";")[1:]]
        assert "httponly" in flags, headers[name]
        assert "samesite=lax" in flags, headers[name]
        assert ("secure" in flags) is secure, headers[name]


# --- realtime connections end with their credentials ------------------------------------------


def wait_disconnected(client: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while client.is_connected():
        assert time.monotonic() < deadline, "the connection is still open"
        time.sleep(0.01)


def add_display(api: Api, office: Office, name: str = "TV 2") -> tuple[int, str]:
    body = api.post(
        f"sites/{office.slug}/devices", "manager", json={"kind": "display", "name": name}
    ).get_json()
    return body["id"], body["token"]


def display_id(api: Api, office: Office) -> int:
    devices = api.get(f"sites/{office.slug}/devices", "manager").get_json()
    return next(d["id"] for d in devices if d["kind"] == DeviceKind.DISPLAY.value)


@pytest.mark.parametrize("action", ["revoke", "rotate-token"])
def test_a_revoked_or_rotated_display_token_drops_its_connection(
    app: Flask, office: Office, api: Api, action: str
) -> None:
    _, other_token = add_display(api, office)
    display = socketio.test_client(app, auth={"token": office.tokens["display"]})
    other = socketio.test_client(app, auth={"token": other_token})
    assert display.is_connected()
    assert other.is_connected()

    response = api.post(
        f"sites/{office.slug}/devices/{display_id(api, office)}/{action}", "manager"
    )
    assert response.status_code == 200, response.get_json()
    wait_disconnected(display)
    # The old token cannot come back; the site's other display stays connected.
    again = socketio.test_client(app, auth={"token": office.tokens["display"]})
    assert not again.is_connected()
    assert other.is_connected()
    other.disconnect()


def test_a_password_change_drops_the_agent_consoles_connection(
    app: Flask, office: Office, api: Api
) -> None:
    browser = app.test_client()
    sign_in(browser, office.users["agent"].email)
    console = socketio.test_client(app, flask_test_client=browser)
    colleague_browser = app.test_client()
    sign_in(colleague_browser, office.users["agent2"].email)
    colleague = socketio.test_client(app, flask_test_client=colleague_browser)
    assert console.is_connected()
    assert colleague.is_connected()

    agent_id = office.users["agent"].id
    assert (
        api.patch(f"users/{agent_id}", "admin", json={"password": NEW_PASSWORD}).status_code == 200
    )
    wait_disconnected(console)
    assert colleague.is_connected()
    colleague.disconnect()


# --- security headers -----------------------------------------------------------------------------


HTML_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def test_every_page_and_answer_carries_the_security_headers(
    app: Flask, office: Office, api: Api
) -> None:
    from flask import url_for

    ticket = api.issue("CNI")
    known = {
        "counter_id": office.counters["g1"].id,
        "code": ticket["code"],
        "slug": office.slug,
        "ticket_id": ticket["id"],
        "user_id": office.users["agent"].id,
        "filename": "css/app.css",
    }
    admin = app.test_client()
    sign_in(admin, office.users["admin"].email)
    anonymous = app.test_client()
    display = {"Authorization": f"Bearer {office.tokens['display']}"}
    policy = app.config["CONTENT_SECURITY_POLICY"]
    paths = {"/no-such-page", "/static/no-such-file.js"}
    for rule in app.url_map.iter_rules():
        if "GET" in (rule.methods or ()) and rule.endpoint != "auth.set_language":
            with app.test_request_context():
                paths.add(url_for(rule.endpoint, **{n: known.get(n, 0) for n in rule.arguments}))
    html = []
    for path in sorted(paths):
        for client in (admin, anonymous):
            with client.get(path, headers=display if path.startswith("/api/") else {}) as answer:
                headers, mimetype = answer.headers, answer.mimetype
            assert headers.get("X-Content-Type-Options") == "nosniff", path
            assert headers.get("Referrer-Policy") == "same-origin", path
            if mimetype == "text/html":
                html.append(path)
                assert headers.get("Content-Security-Policy") == policy, path
                for name, value in HTML_HEADERS.items():
                    assert headers.get(name) == value, (path, name)
    # Sign-in, console, tracking page and error pages were among them.
    for page in ("/login", "/agent/", f"/t/{ticket['code']}", "/no-such-page"):
        assert page in html, html
