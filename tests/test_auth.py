"""Authentication: user tokens, device tokens, their end, rate limits, stored secrets."""

from __future__ import annotations

import base64
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select
from werkzeug.security import check_password_hash

from queue_app.extensions import db
from queue_app.models import User

from .conftest import PASSWORD, Api, Office

RATE_LIMITED = {"RATELIMIT_ENABLED": True, "SIGNIN_LIMIT_ACCOUNT": "3 per minute"}


@pytest.fixture
def app_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Default settings, or those given with ``parametrize("app_config", ..., indirect=True)``."""
    return dict(getattr(request, "param", {}))


def login(api: Api, email: str, password: str = PASSWORD) -> Any:
    return api.post("auth/token", json={"email": email, "password": password})


def bearer(api: Api, token: str, path: str = "sites") -> Any:
    return api.client.get(f"/api/v1/{path}", headers={"Authorization": f"Bearer {token}"})


def assert_unauthorized(response: Any) -> None:
    assert response.status_code == 401, response.get_json()
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert response.get_json()["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def device_id(api: Api, office: Office, kind: str) -> int:
    devices = api.get(f"sites/{office.slug}/devices", "admin").get_json()
    return next(d["id"] for d in devices if d["kind"] == kind)


# --- user tokens ----------------------------------------------------------------------


def test_a_good_password_gives_a_bearer_token(api: Api, office: Office) -> None:
    before = datetime.now(UTC)
    response = login(api, "Agent@Thies.sn ")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"token", "expires_at"}
    expires_at = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert before + timedelta(hours=12) <= expires_at <= datetime.now(UTC) + timedelta(hours=12)

    sites = bearer(api, body["token"])
    assert sites.status_code == 200
    assert [site["slug"] for site in sites.get_json()] == [office.slug]
    # Each sign-in gives a new token; both work.
    other = login(api, "agent@thies.sn").get_json()["token"]
    assert other != body["token"]
    assert bearer(api, other).status_code == 200
    assert bearer(api, body["token"]).status_code == 200


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("agent@thies.sn", "wrong password"),
        ("agent@thies.sn", PASSWORD.upper()),
        ("nobody@thies.sn", PASSWORD),
        ("agent@thies.sn", ""),
    ],
    ids=["wrong-password", "wrong-case", "unknown-email", "empty-password"],
)
def test_bad_credentials_are_401(api: Api, office: Office, email: str, password: str) -> None:
    response = login(api, email, password)
    assert_unauthorized(response)
    assert "token" not in response.get_json()


def test_wrong_password_and_unknown_email_answer_alike(api: Api, office: Office) -> None:
    wrong = login(api, "agent@thies.sn", "wrong password")
    unknown = login(api, "nobody@thies.sn", "wrong password")
    assert wrong.get_json() == unknown.get_json()


def test_an_inactive_user_gets_no_token_and_loses_the_ones_given(api: Api, office: Office) -> None:
    token = login(api, "agent@thies.sn").get_json()["token"]
    assert bearer(api, token).status_code == 200
    agent_id = office.users["agent"].id

    response = api.patch(f"users/{agent_id}", "admin", json={"is_active": False})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["is_active"] is False

    assert_unauthorized(login(api, "agent@thies.sn"))
    assert_unauthorized(bearer(api, token))
    assert_unauthorized(api.post(f"counters/{office.counters['g1'].id}/open", token))

    # Active again: tokens given before the deactivation stay dead; a new sign-in works.
    api.patch(f"users/{agent_id}", "admin", json={"is_active": True})
    assert_unauthorized(bearer(api, token))
    fresh = login(api, "agent@thies.sn")
    assert fresh.status_code == 200
    assert bearer(api, fresh.get_json()["token"]).status_code == 200


def test_user_tokens_expire_after_the_configured_hours(api: Api, office: Office) -> None:
    issued = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(issued, tick=False):
        body = login(api, "manager@thies.sn").get_json()
        assert body["expires_at"] == "2026-03-02T21:00:00Z"
        assert bearer(api, body["token"]).status_code == 200
    with time_machine.travel(issued + timedelta(hours=11, minutes=59), tick=False):
        assert bearer(api, body["token"]).status_code == 200
    with time_machine.travel(issued + timedelta(hours=12, seconds=1), tick=False):
        assert_unauthorized(bearer(api, body["token"]))
        assert_unauthorized(bearer(api, body["token"], f"sites/{office.slug}"))
        # A new sign-in gives a token that works.
        fresh = login(api, "manager@thies.sn").get_json()["token"]
        assert bearer(api, fresh).status_code == 200


@pytest.mark.parametrize("app_config", [{"API_TOKEN_TTL_HOURS": 1}], indirect=True)
def test_token_lifetime_follows_the_setting(api: Api, office: Office) -> None:
    issued = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(issued, tick=False):
        body = login(api, "manager@thies.sn").get_json()
    assert body["expires_at"] == "2026-03-02T10:00:00Z"
    with time_machine.travel(issued + timedelta(minutes=59), tick=False):
        assert bearer(api, body["token"]).status_code == 200
    with time_machine.travel(issued + timedelta(minutes=61), tick=False):
        assert_unauthorized(bearer(api, body["token"]))


# --- device tokens ----------------------------------------------------------------------


def test_a_revoked_device_token_is_refused(api: Api, office: Office) -> None:
    kiosk = office.tokens["kiosk"]
    assert (
        api.post(f"sites/{office.slug}/tickets", kiosk, json={"service": "CNI"}).status_code == 201
    )
    kiosk_id = device_id(api, office, "kiosk")

    response = api.post(f"sites/{office.slug}/devices/{kiosk_id}/revoke", "manager")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["revoked"] is True

    assert_unauthorized(api.post(f"sites/{office.slug}/tickets", kiosk, json={"service": "CNI"}))
    assert_unauthorized(api.get(f"sites/{office.slug}/services", kiosk))
    # Other devices of the site keep working.
    assert api.get(f"sites/{office.slug}/board", "display").status_code == 200


def test_rotating_a_device_token_retires_the_old_one(api: Api, office: Office) -> None:
    old = office.tokens["kiosk"]
    kiosk_id = device_id(api, office, "kiosk")
    response = api.post(f"sites/{office.slug}/devices/{kiosk_id}/rotate-token", "admin")
    assert response.status_code == 200, response.get_json()
    new = response.get_json()["token"]
    assert new.startswith("gd_")
    assert new != old

    assert_unauthorized(api.post(f"sites/{office.slug}/tickets", old, json={"service": "CNI"}))
    issued = api.post(f"sites/{office.slug}/tickets", new, json={"service": "CNI"})
    assert issued.status_code == 201
    assert issued.get_json()["source"] == "kiosk"


def test_rotating_gives_a_revoked_device_a_working_token(api: Api, office: Office) -> None:
    kiosk_id = device_id(api, office, "kiosk")
    api.post(f"sites/{office.slug}/devices/{kiosk_id}/revoke", "admin")
    new = api.post(f"sites/{office.slug}/devices/{kiosk_id}/rotate-token", "admin").get_json()
    assert new["revoked"] is False
    assert api.get(f"sites/{office.slug}/services", new["token"]).status_code == 200
    assert_unauthorized(api.get(f"sites/{office.slug}/services", office.tokens["kiosk"]))


# --- malformed credentials -----------------------------------------------------------------


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


MALFORMED = [
    "Bearer xyz",
    "Bearer ",
    "Bearer",
    "Bearer gu_" + "x" * 43,
    "Bearer gd_" + "x" * 43,
    _basic("admin-thies@example.sn", PASSWORD),
    "Token {token}",
    "Basic {token}",
    "{token}",
    "Bearer {token}x",
    "Bearer x{token}",
]


def test_malformed_or_unknown_credentials_are_401(api: Api, office: Office) -> None:
    # One app for all the headers (each is named when it fails).
    token = api.token("admin")
    assert token is not None
    assert bearer(api, token, f"sites/{office.slug}").status_code == 200
    for header in MALFORMED:
        response = api.client.get(
            f"/api/v1/sites/{office.slug}", headers={"Authorization": header.format(token=token)}
        )
        assert response.status_code == 401, header
        assert_unauthorized(response)


def test_a_token_in_the_query_string_is_not_an_api_credential(api: Api, office: Office) -> None:
    token = api.token("admin")
    assert_unauthorized(api.client.get(f"/api/v1/sites/{office.slug}?token={token}"))


# --- rate limits ------------------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [RATE_LIMITED], indirect=True)
def test_token_requests_are_rate_limited(app: Flask, office: Office) -> None:
    client = app.test_client()
    wrong = {"email": "agent@thies.sn", "password": "wrong password"}
    for _ in range(3):
        assert client.post("/api/v1/auth/token", json=wrong).status_code == 401
    # Even the right password waits now.
    response = client.post(
        "/api/v1/auth/token", json={"email": "agent@thies.sn", "password": PASSWORD}
    )
    assert response.status_code == 429
    assert response.is_json
    error = response.get_json()["error"]
    assert error["code"] == "too_many_requests"
    assert error["message"]
    assert "token" not in response.get_json()


@pytest.mark.parametrize("app_config", [RATE_LIMITED], indirect=True)
def test_the_sign_in_form_is_rate_limited(app: Flask, office: Office) -> None:
    client = app.test_client()
    page = client.get("/login")
    assert page.status_code == 200
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    assert match, "no CSRF token in the sign-in form"
    form = {"csrf_token": match.group(1), "email": "agent@thies.sn", "password": "wrong password"}
    for _ in range(3):
        assert client.post("/login", data=form).status_code == 401
    response = client.post("/login", data={**form, "password": PASSWORD})
    assert response.status_code == 429
    # Reading the form is not limited.
    assert client.get("/login").status_code == 200


@pytest.mark.parametrize("app_config", [RATE_LIMITED], indirect=True)
def test_the_limit_does_not_touch_other_routes(api: Api, office: Office) -> None:
    for _ in range(5):
        assert api.get(f"sites/{office.slug}/board", "display").status_code == 200
        assert api.get("track/ABCDEFGH").status_code == 404


# --- secrets at rest -----------------------------------------------------------------------------


def _database_text(app: Flask) -> str:
    with app.app_context():
        path = db.engine.url.database
    assert path
    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def test_passwords_and_tokens_are_stored_hashed(api: Api, app: Flask, office: Office) -> None:
    clear = "Un mot de passe clair 42"
    created = api.post(
        "users",
        "admin",
        json={"email": "awa@thies.sn", "password": clear, "role": "agent", "sites": ["thies"]},
    )
    assert created.status_code == 201, created.get_json()
    assert "password" not in created.get_json()
    assert "password_hash" not in created.get_json()
    token = login(api, "awa@thies.sn", clear).get_json()["token"]
    changed = "Un autre mot de passe 43"
    patched = api.patch(f"users/{created.get_json()['id']}", "admin", json={"password": changed})
    assert patched.status_code == 200

    dump = _database_text(app)
    for secret in (clear, changed, token, *office.tokens.values()):
        assert secret not in dump
    with app.app_context():
        stored = db.session.scalar(select(User.password_hash).where(User.email == "awa@thies.sn"))
    assert stored is not None
    assert stored.startswith(("scrypt:", "pbkdf2:"))
    assert check_password_hash(stored, changed)
    assert not check_password_hash(stored, clear)
    assert_unauthorized(login(api, "awa@thies.sn", clear))
    assert login(api, "awa@thies.sn", changed).status_code == 200


@pytest.mark.parametrize("method", ["scrypt", "pbkdf2:sha256:1000"])
def test_passwords_hashed_by_werkzeug_and_by_the_domain_check_alike(method):
    from werkzeug.security import generate_password_hash as werkzeug_hash

    from queue_app.queue.passwords import check_password_hash as domain_check
    from queue_app.queue.passwords import generate_password_hash as domain_hash

    stored = werkzeug_hash("mot de passe é", method=method)
    assert domain_check(stored, "mot de passe é")
    assert not domain_check(stored, "mot de passe e")
    ours = domain_hash("mot de passe é", method=method)
    assert ours.startswith(method.split(":")[0] + ":")
    assert check_password_hash(ours, "mot de passe é")
    assert not check_password_hash(ours, "autre")
    assert not domain_check("not a hash", "x")
