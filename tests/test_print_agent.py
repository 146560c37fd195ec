"""The print agent end to end: a real server process, the agent command, a fake printer.

The server is stopped and started again, the agent's answers get lost on the
way: every ticket still comes out of the printer, and only once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from guichet_printer.agent import PrintAgent, ServerUnavailable
from sqlalchemy import select

from queue_app import create_app
from queue_app.cli.commands import upgrade_database
from queue_app.extensions import db
from queue_app.models import Device, DeviceKind, TicketSource
from queue_app.printing.devices import configure_printer
from queue_app.printing.spool import spool_ticket
from queue_app.queue import Actor, issue_ticket

from .conftest import base_config, build_office, dispose
from .fake_printer import FakePrinter, free_port

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


def wait_for(predicate, timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not met in {timeout} s"
        time.sleep(0.05)


class ServerProcess:
    """`queue-app run` on a fixed port, which can be stopped and started again."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env, self.port = env, port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(BIN / "queue-app"), "run", "--port", str(self.port), "--no-scheduler"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def ready() -> bool:
            assert self.process is not None
            assert self.process.poll() is None, "server died"
            try:
                return requests.get(f"{self.url}/readyz", timeout=1).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for(ready, 60, "server ready")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.process = None


@pytest.fixture
def office_db(tmp_path: Path):
    """An office in a SQLite file served by a server process; its kiosk prints through an agent."""
    path = tmp_path / "guichet.db"
    config = {**base_config(tmp_path, f"sqlite:///{path}"), "PRINT_LEASE_SECONDS": 1}
    app = create_app(config)
    with app.app_context():
        upgrade_database()
    office = build_office(app)
    with app.app_context():
        kiosk, agent = (
            db.session.scalar(select(Device).where(Device.kind == kind))
            for kind in (DeviceKind.KIOSK, DeviceKind.PRINTER)
        )
        configure_printer(
            db.session, kiosk, {"printer": "usb://04b8:0202", "print_agent": agent.id}
        )
        db.session.commit()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_APP_")}
    env.update(
        QUEUE_APP_DATABASE_URL=f"sqlite:///{path}",
        QUEUE_APP_SECRET_KEY="test-secret",
        QUEUE_APP_INSTANCE_PATH=str(tmp_path / "instance"),
        QUEUE_APP_PRINT_LEASE_SECONDS="1",
        QUEUE_APP_LOG_LEVEL="WARNING",
    )
    yield app, office, env
    dispose(app)


def issue_over_http(server: ServerProcess, office, service: str = "CNI") -> str:
    response = requests.post(
        f"{server.url}/api/v1/sites/{office.slug}/tickets",
        json={"service": service},
        headers={"Authorization": f"Bearer {office.tokens['kiosk']}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["label"]


def count(printer: FakePrinter, label: str) -> int:
    return sum(label.encode() in paper for paper in printer.prints)


def test_agent_prints_every_ticket_once_across_server_restarts_and_lost_answers(
    office_db, tmp_path
):
    app, office, env = office_db
    printer = FakePrinter().start()
    server = ServerProcess(env, free_port())
    server.start()
    agent = subprocess.Popen(
        [
            str(BIN / "queue-app"),
            "print-agent",
            "--server",
            server.url,
            "--token",
            office.tokens["printer"],
            "--printer",
            printer.url,
            "--poll",
            "1",
            "--state-dir",
            str(tmp_path / "agent-state"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    labels: list[str] = []
    try:
        # Woken by Socket.IO (or its poll): tickets come out as they are issued.
        for _ in range(3):
            labels.append(issue_over_http(server, office))
        assert printer.wait_for(3, timeout=20)

        # The server goes away; tickets spooled meanwhile (by another process) wait.
        server.stop()
        with app.app_context():
            kiosk = db.session.scalar(select(Device).where(Device.kind == DeviceKind.KIOSK))
            site = office.site
            site = db.session.merge(site)
            for _ in range(2):
                service = db.session.merge(office.services["CASIER"])
                issued = issue_ticket(
                    db.session, site, service, actor=Actor(device=kiosk), source=TicketSource.KIOSK
                )
                # As the issue endpoint does: the kiosk's print job with its ticket.
                spool_ticket(
                    db.session, issued.ticket, kiosk, issued.position, issued.estimated_wait_minutes
                )
                labels.append(issued.ticket.label)
            db.session.commit()
        server.start()
        assert printer.wait_for(5, timeout=30)
        labels.append(issue_over_http(server, office))
        assert printer.wait_for(6, timeout=20)
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            _, agent_log = agent.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            agent.kill()
            _, agent_log = agent.communicate(timeout=10)
    assert agent.returncode == 0, agent_log

    # Now the answers get lost: "done" does not reach the server twice in a row.
    lost = {"left": 2}
    in_process = PrintAgent(
        server.url,
        office.tokens["printer"],
        printer.url,
        state_dir=tmp_path / "agent-state-2",
        use_socketio=False,
    )
    real_post = in_process._post

    def flaky_post(path: str, body: dict | None = None) -> Any:
        if path.endswith("/done") and lost["left"]:
            lost["left"] -= 1
            raise ServerUnavailable("connection reset")
        return real_post(path, body)

    in_process._post = flaky_post  # type: ignore[method-assign]
    try:
        labels.append(issue_over_http(server, office))
        with pytest.raises(ServerUnavailable):
            in_process.run_once()  # printed, but the server did not hear it
        assert printer.wait_for(7)
        with pytest.raises(ServerUnavailable):
            in_process.run_once()  # the repeated "done" is lost too
        # The lease runs out: the server hands the job out again; the journal
        # says it was printed, so the agent only acknowledges it.
        wait_for(lambda: in_process.run_once() == 0 and not in_process.journal.unacknowledged())
        assert in_process.run_once() == 0
    finally:
        server.stop()
        printer.stop()
    assert len(printer.prints) == 7
    assert {label: count(printer, label) for label in labels} == dict.fromkeys(labels, 1)


@pytest.fixture(scope="module")
def printer_only_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with only the guichet-printer distribution (built from printer/)."""
    folder = tmp_path_factory.mktemp("printer-dist")
    source = folder / "src"
    shutil.copytree(ROOT / "printer", source, ignore=shutil.ignore_patterns("*.egg-info", "build"))
    dist = folder / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(dist),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    wheels = list(dist.glob("guichet_printer-*.whl"))
    assert len(wheels) == 1, wheels
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # The releases the lock file names (the distribution's ranges allow newer ones).
    constraints = folder / "constraints.txt"
    locked = (ROOT / "requirements" / "install.lock").read_text().splitlines()
    constraints.write_text("\n".join(line for line in locked if "==" in line) + "\n")
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--constraint", str(constraints)]
        + [str(wheels[0])],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return venv / "bin"


def test_the_printer_distribution_alone_runs_the_agent(printer_only_venv, live_server, office):
    from .conftest import Api

    python = str(printer_only_venv / "python")
    no_flask = subprocess.run(
        [python, "-c", "import flask"], capture_output=True, text=True, timeout=60
    )
    assert no_flask.returncode != 0, "the printer distribution must not pull in Flask"
    helped = subprocess.run(
        [str(printer_only_venv / "guichet-print-agent"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert helped.returncode == 0
    assert "--printer" in helped.stdout

    api = Api(live_server.app, office)
    with live_server.app.app_context():
        kiosk, agent_device = (
            db.session.scalar(
                select(Device).where(Device.site_id == office.site.id, Device.kind == kind)
            )
            for kind in (DeviceKind.KIOSK, DeviceKind.PRINTER)
        )
        configure_printer(db.session, kiosk, {"print_agent": agent_device.id})
        db.session.commit()
    printer = FakePrinter().start()
    agent = subprocess.Popen(
        [
            str(printer_only_venv / "guichet-print-agent"),
            "--server",
            live_server.url,
            "--token",
            office.tokens["printer"],
            "--printer",
            printer.url,
            "--poll",
            "1",
            "--state-dir",
            str(printer_only_venv.parent / "state"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        label = api.issue("CASIER")["label"]
        assert printer.wait_for(1, timeout=30)
        assert label.encode() in printer.prints[0]
        assert b"Espace S\xe9n\xe9gal" in printer.prints[0]
    finally:
        agent.terminate()
        agent.wait(15)
        printer.stop()
