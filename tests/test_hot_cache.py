"""The per-process cache of tokens and set-up rows (queue_app/infra/hotcache.py).

Two apps on one database stand for two server processes. What is cached must
never let a revoked kiosk, a deactivated service or a closed day through for
longer than the cache promises: at once in the process that made the change,
within a second in the others (at once through Redis when configured).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask

from queue_app import create_app
from queue_app.infra import hotcache
from queue_app.infra.hotcache import hot_cache

from .conftest import Api, Office, base_config, build_office, dispose


@pytest.fixture
def two_processes(tmp_path: Path, sqlite_template: Path) -> Iterator[Callable[..., Any]]:
    """Factory of two apps on one SQLite file, with the given extra settings."""
    path = tmp_path / "shared.db"
    shutil.copy(sqlite_template, path)
    made: list[Flask] = []

    def build(**settings: Any) -> tuple[Flask, Flask, Office]:
        apps = []
        for name in ("a", "b"):
            folder = tmp_path / name
            folder.mkdir(exist_ok=True)
            apps.append(create_app({**base_config(folder, f"sqlite:///{path}"), **settings}))
        made.extend(apps)
        return apps[0], apps[1], build_office(apps[0])

    yield build
    for application in made:
        dispose(application)


def issue_status(api: Api, office: Office, token: str) -> int:
    response = api.post(f"sites/{office.slug}/tickets", token, json={"service": "CNI"})
    return int(response.status_code)


def kiosk_id(api: Api, office: Office) -> int:
    devices = api.get(f"sites/{office.slug}/devices", "manager").get_json()
    return next(d["id"] for d in devices if d["kind"] == "kiosk")


def refused_within(api: Api, office: Office, token: str, seconds: float) -> bool:
    """The kiosk's requests are refused (401) before ``seconds`` have passed (a wait)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if issue_status(api, office, token) == 401:
            return True
        time.sleep(0.02)
    return False


class Clock:
    """The cache's clock (time.monotonic), moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.mark.redis
def test_a_revoked_kiosk_is_refused_at_once_by_another_process_through_redis(
    two_processes: Any, redis_channel: tuple[str, str]
) -> None:
    redis_url, channel = redis_channel
    # Entries that would live a minute: only the message can make B forget.
    a, b, office = two_processes(
        REDIS_URL=redis_url, SOCKETIO_CHANNEL=channel, HOT_CACHE_SECONDS=60
    )
    on_a, on_b = Api(a, office), Api(b, office)
    kiosk = office.tokens["kiosk"]
    assert issue_status(on_b, office, kiosk) == 201  # B has the kiosk cached now
    deadline = time.monotonic() + 5
    while not hot_cache(b).subscribed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hot_cache(b).subscribed
    assert issue_status(on_b, office, kiosk) == 201

    revoked = on_a.post(f"sites/{office.slug}/devices/{kiosk_id(on_a, office)}/revoke", "manager")
    assert revoked.status_code == 200, revoked.get_json()
    assert issue_status(on_a, office, kiosk) == 401  # the process that revoked: at once
    # Entries live a minute: refused well before then is the message's doing.
    assert refused_within(on_b, office, kiosk, 10.0), "B still takes the revoked kiosk's tickets"


def test_without_redis_another_process_refuses_a_revoked_kiosk_within_a_second(
    two_processes: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(hotcache, "time", clock)
    a, b, office = two_processes(HOT_CACHE_SECONDS=60)
    on_a, on_b = Api(a, office), Api(b, office)
    kiosk = office.tokens["kiosk"]
    assert issue_status(on_b, office, kiosk) == 201
    revoked = on_a.post(f"sites/{office.slug}/devices/{kiosk_id(on_a, office)}/revoke", "manager")
    assert revoked.status_code == 200, revoked.get_json()
    assert issue_status(on_a, office, kiosk) == 401
    # HOT_CACHE_FALLBACK_SECONDS (1 s) bounds what B may remember without Redis.
    clock.now += 1.01
    assert issue_status(on_b, office, kiosk) == 401


def test_set_up_changes_are_seen_at_once_by_the_process_that_made_them(
    app: Flask, office: Office, api: Api
) -> None:
    assert api.issue("CNI")["label"] == "B-001"  # site, service, kiosk now cached
    # The service stops: the kiosk is told at once.
    response = api.patch(f"sites/{office.slug}/services/CNI", "manager", json={"is_active": False})
    assert response.status_code == 200, response.get_json()
    stopped = api.post(f"sites/{office.slug}/tickets", "kiosk", json={"service": "CNI"})
    assert stopped.status_code == 409, stopped.get_json()
    # Today becomes a closure day: kiosks stop issuing at once.
    today = datetime.now(UTC).date().isoformat()
    closed = api.put(f"sites/{office.slug}/closures", "manager", json=[today])
    assert closed.status_code == 200, closed.get_json()
    refused = api.post(f"sites/{office.slug}/tickets", "kiosk", json={"service": "CASIER"})
    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["error"]["code"] == "site_closed"


def test_a_cached_user_token_still_expires_on_time(app: Flask, office: Office, api: Api) -> None:
    counter = office.counters["g1"].id
    assert api.get(f"counters/{counter}", "agent").status_code == 200  # cached now
    hours = int(app.config["API_TOKEN_TTL_HOURS"])
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=hours, minutes=1)):
        assert api.get(f"counters/{counter}", "agent").status_code == 401


def test_a_new_password_ends_a_cached_token_at_once(app: Flask, office: Office, api: Api) -> None:
    counter = office.counters["g1"].id
    assert api.get(f"counters/{counter}", "agent").status_code == 200
    user_id = office.users["agent"].id
    changed = api.patch(f"users/{user_id}", "admin", json={"is_active": False})
    assert changed.status_code == 200, changed.get_json()
    assert api.get(f"counters/{counter}", "agent").status_code == 401
