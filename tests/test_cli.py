"""The `queue-app` command line: init-db, demo, create-user, run."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, inspect, select

from queue_app import create_app
from queue_app.cli.commands import cli
from queue_app.extensions import db
from queue_app.models import Counter, Device, Service, Site, User

from .conftest import base_config, dispose

ROOT = Path(__file__).resolve().parent.parent
QUEUE_APP = str(Path(sys.executable).parent / "queue-app")


@pytest.fixture
def empty_app(tmp_path):
    """An app on a SQLite file with no schema at all."""
    application = create_app(base_config(tmp_path, f"sqlite:///{tmp_path / 'empty.db'}"))
    yield application
    dispose(application)


def invoke(application, *args):
    return application.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)


def counts(application):
    with application.app_context():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Site, Service, Counter, Device, User)
        }


def test_init_db_creates_then_upgrades_in_place(empty_app):
    first = invoke(empty_app, "init-db")
    assert first.exit_code == 0, first.output
    assert "Database ready" in first.output
    with empty_app.app_context():
        tables = set(inspect(db.engine).get_table_names())
    assert {
        "sites",
        "services",
        "counters",
        "tickets",
        "ticket_events",
        "alembic_version",
    } <= tables
    again = invoke(empty_app, "init-db")
    assert again.exit_code == 0


def test_demo_is_idempotent_and_its_tokens_work(empty_app):
    first = invoke(empty_app, "demo", "--no-history")
    assert first.exit_code == 0, first.output
    assert "Espace Sénégal Services — Thiès" in first.output
    assert "http://testserver/agent" in first.output
    after_first = counts(empty_app)
    assert after_first == {"Site": 1, "Service": 4, "Counter": 4, "Device": 3, "User": 4}
    assert "http://testserver/admin" in first.output
    assert "http://testserver/sites/demo/commitments" in first.output
    assert re.search(r"/feedback/\d+\?token=gd_\w+", first.output)

    second = invoke(empty_app, "demo", "--no-history")
    assert counts(empty_app) == after_first
    tokens_first = re.findall(r"gd_\w+", first.output)
    assert tokens_first
    assert re.findall(r"gd_\w+", second.output) == tokens_first

    client = empty_app.test_client()
    kiosk, display = tokens_first[0], tokens_first[1]
    ticket = client.post(
        "/api/v1/sites/demo/tickets",
        json={"service": "CNI"},
        headers={"Authorization": f"Bearer {kiosk}"},
    )
    assert ticket.status_code == 201
    assert ticket.get_json()["label"] == "B-001"
    board = client.get("/api/v1/sites/demo/board", headers={"Authorization": f"Bearer {display}"})
    assert board.get_json()["waiting"]["CNI"] == 1

    login = client.post(
        "/api/v1/auth/token", json={"email": "agent@guichet.demo", "password": "demo-agent-2026"}
    )
    assert login.status_code == 200


def test_the_demo_office_has_no_hours_and_takes_tickets_at_night(empty_app):
    """A tester trying the demo at 03:00 on a Sunday still gets a ticket."""
    output = invoke(empty_app, "demo", "--no-history").output
    kiosk = re.findall(r"gd_\w+", output)[0]
    client = empty_app.test_client()
    with time_machine.travel(datetime(2026, 11, 29, 3, 0, tzinfo=UTC), tick=False):
        ticket = client.post(
            "/api/v1/sites/demo/tickets",
            json={"service": "CNI"},
            headers={"Authorization": f"Bearer {kiosk}"},
        )
    assert ticket.status_code == 201, ticket.get_json()
    with empty_app.app_context():
        assert db.session.scalar(select(Site).where(Site.slug == "demo")).hours is None


def test_create_user_with_and_without_a_password(app, office):
    made = invoke(
        app,
        "create-user",
        "Awa@Example.SN",
        "--role",
        "agent",
        "--site",
        "thies",
        "--password",
        "un long mot de passe",
        "--name",
        "Awa Ndiaye",
    )
    assert made.exit_code == 0, made.output
    generated = invoke(app, "create-user", "boss@example.sn", "--role", "admin")
    assert generated.exit_code == 0
    password = re.search(r"Password: (\S+)", generated.output).group(1)
    client = app.test_client()
    for email, secret in (
        ("awa@example.sn", "un long mot de passe"),
        ("boss@example.sn", password),
    ):
        response = client.post("/api/v1/auth/token", json={"email": email, "password": secret})
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["agent@thies.sn", "--role", "agent", "--site", "thies", "--password", "12345678"],
            "email",
        ),
        (
            ["new@example.sn", "--role", "agent", "--site", "nowhere", "--password", "12345678"],
            "site=nowhere",
        ),
        (["new@example.sn", "--role", "agent", "--password", "short"], "password"),
        (["not-an-email", "--role", "admin", "--password", "12345678"], "email"),
    ],
)
def test_create_user_refusals_are_clear(app, office, args, message):
    result = app.test_cli_runner().invoke(cli, ["create-user", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_run_serves_the_demo_office(tmp_path):
    """`queue-app demo` then `queue-app run`: what `make demo` runs, end to end."""
    env = {
        **os.environ,
        "QUEUE_APP_INSTANCE_PATH": str(tmp_path),
        "QUEUE_APP_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
    }
    env.pop("QUEUE_APP_PUBLIC_URL", None)
    port = _free_port()
    # As `make demo PORT=...` runs it: every link printed names the port served on.
    demo = subprocess.run(
        [QUEUE_APP, "demo", "--no-history", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    # Every link but the example of a PUBLIC_URL phones reach (QUEUE_APP_PUBLIC_URL=...).
    links = re.findall(r"(?<!=)https?://[^\s'\"]+", demo.stdout)
    assert len(links) >= 5, demo.stdout
    assert all(re.match(rf"http://127\.0\.0\.1:{port}(/|$)", link) for link in links), links
    kiosk = re.search(r"kiosk\s+.*?(gd_\w+)", demo.stdout).group(1)
    server = subprocess.Popen(
        [QUEUE_APP, "run", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        import requests

        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            assert server.poll() is None, server.stdout.read()
            time.sleep(0.1)
        ticket = requests.post(
            f"{base}/api/v1/sites/demo/tickets",
            json={"service": "PERMIS"},
            headers={"Authorization": f"Bearer {kiosk}"},
            timeout=5,
        )
        assert ticket.status_code == 201
        assert ticket.json()["label"] == "D-001"
        page = requests.get(f"{base}/login", timeout=5)
        assert "Se connecter" in page.text
        socket_handshake = requests.get(f"{base}/socket.io/?EIO=4&transport=polling", timeout=5)
        assert socket_handshake.status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()


def test_the_embedded_server_sends_each_answer_at_once():
    """`queue-app run` turns Nagle's algorithm off on each connection it serves.

    Without it a kept-alive client waited for its delayed acknowledgement (some 40 ms)
    before the body of every answer after the first.
    """
    from queue_app.cli.serving import NoDelayHandler, handler_options

    assert handler_options() == {"handler_class": NoDelayHandler}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        served, address = listener.accept()
        with client, served:
            assert served.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
            NoDelayHandler(served, address, None)
            assert served.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
