"""PostgreSQL connections that die in the pool (a database restart, a killed backend).

The pool pings a connection before use only when it sat idle for a second
(database.py): under load a ping per request would be a round trip for nothing.
A connection killed while idle is then replaced before a request uses it; one
killed while in use fails that one request with 503, and the next requests get
new connections, on the busiest paths (a ticket, a call) as on every other.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, make_url, text

from queue_app.infra import database
from queue_app.realtime import events

from .conftest import PG_URL, Api, build_office

pytestmark = pytest.mark.postgres


def _kill_connections_of(app) -> int:
    """Terminate every server process of the app's database (as a restart would)."""
    name = make_url(app.config["DATABASE_URL"]).database
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            return int(
                connection.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                ).scalar_one()
            )
    finally:
        admin.dispose()


def _quiet_publisher(app) -> None:
    """Stop the state publisher (joined): its thread would otherwise be the one to take a
    killed connection from the pool (and renew the pool) before the request under test."""
    app.extensions[events.PUBLISHER_KEY].stop()


def test_a_connection_killed_while_idle_is_replaced_before_use(pg_app, monkeypatch):
    office = build_office(pg_app)
    api = Api(pg_app, office)
    api.open_counter("g2")
    assert api.issue("CNI")["number"] == 1
    # Every pooled connection counts as idle: each is pinged before use.
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
    _quiet_publisher(pg_app)
    assert _kill_connections_of(pg_app) >= 1
    # The kiosk's hot path, the agent's hot path and an ordinary read all succeed.
    assert api.issue("CNI")["number"] == 2
    assert api.call_next("g2").get_json()["label"] == "B-001"
    assert api.get(f"sites/{office.slug}/board", "display").status_code == 200


@pytest.mark.parametrize("path", ["issue", "call"])
def test_a_connection_killed_in_use_fails_one_request_with_503_then_recovers(
    pg_app, monkeypatch, path
):
    office = build_office(pg_app)
    api = Api(pg_app, office)
    api.open_counter("g2")
    api.issue("CNI")
    api.issue("CNI")
    # No ping: the next request meets the dead connection under its statement.
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 3600.0)
    _quiet_publisher(pg_app)
    assert _kill_connections_of(pg_app) >= 1

    def attempt():
        if path == "issue":
            return api.post(f"sites/{office.slug}/tickets", "kiosk", json={"service": "CNI"})
        return api.call_next("g2")

    failed = attempt()
    # Answered as the database being unreachable, not as a bug.
    assert failed.status_code == 503, failed.get_data(as_text=True)[:300]
    assert failed.get_json()["error"]["code"] == "unavailable"
    # The pool was renewed: the next request is served, and nothing was lost or doubled.
    again = attempt()
    assert again.status_code in (200, 201), again.get_json()
    if path == "issue":
        assert again.get_json()["number"] == 3
    else:
        assert again.get_json()["label"] == "B-001"
