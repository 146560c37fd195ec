"""The print agent asks its printer before each job: one out of paper keeps the job in
the server's spool (alerted), and prints it once when the paper is back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from guichet_printer.agent import PrintAgent
from sqlalchemy import select

from queue_app.extensions import db
from queue_app.models import Device, DeviceKind, utcnow
from queue_app.ops import alerts

from .fake_printer import FakePrinter

FAST_RETRIES = {"PRINT_RETRY_BASE_SECONDS": 0.05, "PRINT_RETRY_MAX_SECONDS": 0.2}


@pytest.fixture
def app_config() -> dict[str, Any]:
    return dict(FAST_RETRIES)


@pytest.fixture
def printer():
    fake = FakePrinter().start()
    yield fake
    fake.stop()


def wait_until(predicate, timeout: float = 15.0) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_an_agent_out_of_paper_prints_the_job_once_when_the_paper_is_back(
    app, api, office, printer, live_server
):
    with app.app_context():
        agent_id = db.session.scalar(select(Device.id).where(Device.kind == DeviceKind.PRINTER))
        kiosk = db.session.scalar(select(Device.id).where(Device.kind == DeviceKind.KIOSK))
    api.patch(f"sites/{office.slug}/devices/{kiosk}", "manager", json={"print_agent": agent_id})
    agent = PrintAgent(
        live_server.url, office.tokens["printer"], printer.url, use_socketio=False, timeout=5
    )
    printer.set_paper("out")
    ticket = api.issue("CNI")
    assert agent.run_once() == 0
    assert printer.prints == []
    assert printer.buffered == []  # nothing sent: the job waits in the spool
    job = api.get(f"print-jobs/{ticket['print_job']['id']}", "manager").get_json()
    assert job["status"] == "pending"
    devices = {d["kind"]: d for d in api.get(f"sites/{office.slug}/devices", "manager").get_json()}
    assert devices["kiosk"]["printer_status"] == "paper_out"
    assert devices["printer"]["online"] is True
    with app.app_context():
        opened, _ = alerts.evaluate(db.session, now=utcnow() + timedelta(seconds=15))
        db.session.commit()
    assert [a.kind for a in opened] == ["printer_paper_out"]

    printer.set_paper("ok")
    wait_until(lambda: agent.run_once() == 1)
    assert len(printer.prints) == 1
    assert ticket["label"].encode() in printer.prints[0]
    assert agent.run_once() == 0
    assert len(printer.prints) == 1
    # Idle: the agent tells the server how its printer is.
    printer.set_paper("low")
    assert agent.report_status()["paper"] == "low"
    devices = {d["kind"]: d for d in api.get(f"sites/{office.slug}/devices", "manager").get_json()}
    assert devices["kiosk"]["printer_status"] == "paper_low"
