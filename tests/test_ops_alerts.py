"""Alerts open when a device goes quiet, a printer runs out of paper, the SMS gateway
fails or a service's wait passes its target; they close by themselves when the cause
ends. The evaluation is driven with an explicit ``now`` (no sleeping)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from queue_app.extensions import db, socketio
from queue_app.models import (
    Alert,
    AuditEntry,
    Device,
    DeviceKind,
    MessageStatus,
    OutboundMessage,
    Site,
    utcnow,
)
from queue_app.ops import alerts

from .fake_printer import FakePrinter

# A Tuesday morning in Dakar (the office has no hours: open every day).
MORNING = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
FAST_RETRIES = {
    "PRINT_RETRY_BASE_SECONDS": 0.05,
    "PRINT_RETRY_MAX_SECONDS": 0.2,
    "PRINT_TIMEOUT_SECONDS": 2.0,
    "PRINT_PAPER_QUERY_SECONDS": 1.0,
}


@pytest.fixture
def app_config() -> dict[str, Any]:
    return dict(FAST_RETRIES)


@pytest.fixture(autouse=True)
def morning():
    with time_machine.travel(MORNING, tick=True) as traveller:
        yield traveller


@pytest.fixture
def printer():
    fake = FakePrinter().start()
    yield fake
    fake.stop()


def evaluate(app, now: datetime) -> tuple[list[str], list[str]]:
    with app.app_context():
        opened, closed = alerts.evaluate(db.session, now=now)
        db.session.commit()
        return [a.kind for a in opened], [a.kind for a in closed]


def open_alerts(api, office) -> list[dict[str, Any]]:
    answer = api.get(f"sites/{office.slug}/alerts", "agent")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def device_id(app, kind: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Device.id).where(Device.kind == kind))


def alert_sms(app) -> list[OutboundMessage]:
    with app.app_context():
        return list(
            db.session.scalars(select(OutboundMessage).where(OutboundMessage.kind == "alert"))
        )


def test_a_display_that_disconnects_is_alerted_then_closed_when_it_returns(
    app, api, office, morning
):
    bad = api.patch(f"sites/{office.slug}", "manager", json={"alert_phone": "12"})
    assert bad.status_code == 400
    answer = api.patch(f"sites/{office.slug}", "manager", json={"alert_phone": "77 123 45 67"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["alert_phone"].endswith("67")
    assert "77 123" not in str(answer.get_json())
    offline = app.config["DEVICE_OFFLINE_SECONDS"]
    interval = app.config["ALERTS_INTERVAL_SECONDS"]
    display = socketio.test_client(app, auth={"token": office.tokens["display"]})
    assert display.is_connected()
    assert evaluate(app, utcnow()) == ([], [])
    display.disconnect()
    gone = utcnow()

    # Still within DEVICE_OFFLINE_SECONDS: no alert.
    assert evaluate(app, gone + timedelta(seconds=offline - 5)) == ([], [])
    # The first evaluation past it (they run every ALERTS_INTERVAL_SECONDS) opens it:
    # within DEVICE_OFFLINE_SECONDS + 30 s of the disconnection.
    at = gone + timedelta(seconds=offline + interval)
    assert evaluate(app, at) == (["device_offline"], [])
    morning.move_to(at)
    shown = open_alerts(api, office)
    assert [(a["kind"], a["device"]) for a in shown] == [
        ("device_offline", device_id(app, DeviceKind.DISPLAY))
    ]
    assert "display thies" in shown[0]["message"]
    assert shown[0]["since"].startswith(at.isoformat()[:16])
    # Once: the next rounds change nothing, and one SMS went to the alert phone.
    assert evaluate(app, at + timedelta(seconds=interval)) == ([], [])
    assert evaluate(app, at + timedelta(minutes=10)) == ([], [])
    messages = alert_sms(app)
    assert len(messages) == 1
    assert messages[0].to_phone == "+221771234567"
    assert "display thies" in messages[0].body

    # The screen comes back: the next evaluation (within 30 s) closes the alert.
    back_at = at + timedelta(minutes=10)
    morning.move_to(back_at)
    display = socketio.test_client(app, auth={"token": office.tokens["display"]})
    assert display.is_connected()
    assert evaluate(app, back_at + timedelta(seconds=interval)) == ([], ["device_offline"])
    assert open_alerts(api, office) == []
    display.disconnect()
    with app.app_context():
        history = db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "alert")
            .order_by(AuditEntry.id)
        ).all()
    assert history == ["open", "close"]


def test_a_device_never_seen_or_at_night_raises_no_alert(app, api, office):
    # Never seen (not installed yet): nothing to alert about.
    assert evaluate(app, utcnow() + timedelta(hours=2)) == ([], [])
    kiosk_page = f"/kiosk/{office.slug}?token={office.tokens['kiosk']}"
    assert api.client.get(kiosk_page).status_code == 200  # the kiosk is seen
    # The office closes every day: a kiosk switched off for the night is no alert.
    assert api.put(f"sites/{office.slug}/hours", "manager", json={}).status_code == 200
    assert evaluate(app, utcnow() + timedelta(hours=2)) == ([], [])
    cleared = api.request("DELETE", f"sites/{office.slug}/hours", "manager")
    assert cleared.status_code in (200, 204)
    assert evaluate(app, utcnow() + timedelta(hours=2)) == (["device_offline"], [])


def test_a_printer_out_of_paper_is_alerted_and_its_ticket_prints_once_when_paper_is_back(
    app, api, office, printer
):
    kiosk = device_id(app, DeviceKind.KIOSK)
    answer = api.patch(
        f"sites/{office.slug}/devices/{kiosk}", "manager", json={"printer": printer.url}
    )
    assert answer.status_code == 200, answer.get_json()
    printer.set_paper("out")
    ticket = api.issue("CNI")
    issued = utcnow()
    job = ticket["print_job"]["id"]

    def job_state() -> dict[str, Any]:
        return api.get(f"print-jobs/{job}", "manager").get_json()

    # The print thread asked the printer first: nothing sent, the job waits in the spool.
    wait_until(lambda: job_state()["attempts"] >= 1 and job_state()["status"] == "pending")
    assert printer.prints == []
    assert printer.buffered == []
    devices = {d["kind"]: d for d in api.get(f"sites/{office.slug}/devices", "manager").get_json()}
    assert devices["kiosk"]["printer_status"] == "paper_out"
    # Alerted within 60 s (the next evaluation).
    assert evaluate(app, issued + timedelta(seconds=15)) == (["printer_paper_out"], [])
    assert "papier" in open_alerts(api, office)[0]["message"]

    printer.set_paper("ok")
    assert printer.wait_for(1, timeout=15)
    settle(app)
    assert len(printer.prints) == 1
    assert ticket["label"].encode() in printer.prints[0]
    assert job_state()["status"] == "done"
    assert evaluate(app, utcnow() + timedelta(seconds=15)) == ([], ["printer_paper_out"])
    settle(app)
    assert len(printer.prints) == 1


def test_a_printer_running_out_of_paper_still_prints_and_is_alerted(app, api, office, printer):
    kiosk = device_id(app, DeviceKind.KIOSK)
    api.patch(f"sites/{office.slug}/devices/{kiosk}", "manager", json={"printer": printer.url})
    printer.set_paper("low")
    api.issue("CNI")
    assert printer.wait_for(1)
    wait_until(lambda: (alerts_kinds := evaluate(app, utcnow())[0]) and alerts_kinds)
    assert [a["kind"] for a in open_alerts(api, office)] == ["printer_paper_low"]


def test_a_print_agent_reports_its_printer_and_the_kiosk_shows_it(app, api, office):
    agent = device_id(app, DeviceKind.PRINTER)
    kiosk = device_id(app, DeviceKind.KIOSK)
    api.patch(f"sites/{office.slug}/devices/{kiosk}", "manager", json={"print_agent": agent})
    report = {"online": True, "paper": "out", "cover": "closed", "error": None}
    assert api.post("print-agents/me/printer-status", "kiosk", json=report).status_code == 403
    answer = api.post("print-agents/me/printer-status", "printer", json=report)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"kiosks": [kiosk], "printer_status": "paper_out"}
    devices = {d["kind"]: d for d in api.get(f"sites/{office.slug}/devices", "manager").get_json()}
    assert devices["kiosk"]["printer_status"] == "paper_out"
    assert devices["printer"]["online"] is True
    assert evaluate(app, utcnow()) == (["printer_paper_out"], [])
    report = {"online": True, "paper": "ok", "cover": "open", "error": None}
    api.post("print-agents/me/printer-status", "printer", json=report)
    assert evaluate(app, utcnow()) == (["printer_cover_open"], ["printer_paper_out"])
    bad = api.post("print-agents/me/printer-status", "printer", json={"paper": "soggy"})
    assert bad.status_code == 400


def test_a_wait_past_the_target_is_alerted_until_the_ticket_is_called(app, api, office):
    api.issue("CNI")
    target = office.services["CNI"].target_wait_minutes

    def waits(now: datetime) -> tuple[list[str], list[str]]:
        opened, closed = evaluate(app, now)
        return [k for k in opened if k.startswith("wait")], [
            k for k in closed if k.startswith("wait")
        ]

    assert waits(utcnow() + timedelta(minutes=target - 1)) == ([], [])
    late = utcnow() + timedelta(minutes=target + 1)
    assert waits(late) == (["wait_over_target"], [])
    assert "Carte nationale" in open_alerts(api, office)[-1]["message"]
    api.open_counter("g2")
    assert api.call_next("g2").status_code == 200
    assert waits(late + timedelta(seconds=15)) == ([], ["wait_over_target"])


def test_a_failing_sms_gateway_is_alerted_and_closed_when_a_message_goes_out(app, api, office):
    now = utcnow()
    with app.app_context():
        site = db.session.scalar(select(Site))
        for index in range(3):
            db.session.add(
                OutboundMessage(
                    site_id=site.id,
                    idempotency_key=f"test:{index}",
                    kind="reminder",
                    gateway="console",
                    to_phone="+221771234567",
                    body="x",
                    status=MessageStatus.QUEUED,
                    attempts=1,
                    last_error="HTTP 500",
                    claimed_at=now - timedelta(minutes=3 - index),
                    next_attempt_at=now,
                    created_at=now - timedelta(minutes=5),
                )
            )
        db.session.commit()
    assert evaluate(app, now) == (["sms_failing"], [])
    with app.app_context():
        message = db.session.scalar(
            select(OutboundMessage).where(OutboundMessage.idempotency_key == "test:2")
        )
        message.status = MessageStatus.SENT
        message.last_error = None
        db.session.commit()
    assert evaluate(app, now + timedelta(seconds=15)) == ([], ["sms_failing"])


def test_alerts_are_for_staff_of_the_site_only(api, office):
    assert api.get(f"sites/{office.slug}/alerts").status_code == 401
    assert api.get(f"sites/{office.slug}/alerts", "kiosk").status_code == 403
    assert api.get("sites/nowhere/alerts", "manager").status_code in (403, 404)


def test_only_one_open_alert_per_cause(app, api, office):
    api.issue("CNI")
    later = utcnow() + timedelta(hours=1)
    evaluate(app, later)
    evaluate(app, later + timedelta(seconds=15))
    with app.app_context():
        rows = db.session.scalars(select(Alert).where(Alert.closed_at.is_(None))).all()
    assert len({(row.kind, row.subject) for row in rows}) == len(rows)


def wait_until(predicate, timeout: float = 15.0) -> Any:
    """Poll committed state until it holds (bounded, never a blind sleep)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def settle(app) -> None:
    """Run the print spool once more: nothing left due may print again."""
    app.extensions["queue_app.print_worker"].run_once()


def test_the_alert_phone_is_set_on_the_office_page(app, office):
    import html

    from .quality_helpers import post_form, sign_in

    manager = app.test_client()
    sign_in(manager, office.users["manager"].email)
    page = html.unescape(manager.get("/admin/sites/thies").get_data(as_text=True))
    assert "Téléphone pour les alertes" in page
    form = {
        "name": "Espace Sénégal Services thies",
        "timezone": "Africa/Dakar",
        "default_language": "fr",
        "languages": ["en"],
        "sms_keyword": "",
        "alert_phone": "12",
    }
    refused = post_form(manager, "/admin/sites/thies", form)
    assert refused.status_code == 400
    assert "Téléphone pour les alertes" in html.unescape(refused.get_data(as_text=True))
    with app.app_context():
        assert db.session.scalar(select(Site.alert_phone)) is None
    form["alert_phone"] = "77 123 45 67"
    assert post_form(manager, "/admin/sites/thies", form).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Site.alert_phone)) == "+221771234567"
    form["alert_phone"] = ""
    assert post_form(manager, "/admin/sites/thies", form).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Site.alert_phone)) is None


def test_alerts_and_last_seen_on_both_databases(any_app, make_office, morning):
    """The same statements on SQLite and PostgreSQL: last-seen write, alert open and close."""
    from queue_app.ops.devices import book_of

    from .conftest import Api

    office = make_office(any_app)
    api = Api(any_app, office)
    for _ in range(3):
        api.issue("CNI")
    assert book_of(any_app).flush() == 1
    with any_app.app_context():
        seen = db.session.scalar(select(Device.last_seen_at).where(Device.kind == DeviceKind.KIOSK))
    assert seen is not None
    later = utcnow() + timedelta(hours=1)
    opened, _ = evaluate(any_app, later)
    assert sorted(opened) == ["device_offline", "wait_over_target"]
    # Nothing twice (the open alerts' unique index holds on both).
    assert evaluate(any_app, later + timedelta(seconds=15)) == ([], [])
    morning.move_to(later)
    api.issue("CNI")
    assert book_of(any_app).flush() == 1
    assert evaluate(any_app, utcnow() + timedelta(seconds=15))[1] == ["device_offline"]


def test_the_scheduler_evaluates_alerts_every_interval(app, api, office, morning):
    from queue_app.jobs.scheduler import JOBS, build_scheduler, run_job

    jobs = {name: (job, interval) for name, job, interval in JOBS}
    assert jobs["alerts"][1] == {"seconds": "ALERTS_INTERVAL_SECONDS"}
    scheduler = build_scheduler(app, blocking=False)
    trigger = scheduler.get_job("alerts").trigger
    assert trigger.interval == timedelta(seconds=app.config["ALERTS_INTERVAL_SECONDS"])
    api.issue("CNI")
    morning.shift(timedelta(hours=1))
    run_job(app, "alerts", jobs["alerts"][0])
    kinds = sorted(alert["kind"] for alert in open_alerts(api, office))
    assert kinds == ["device_offline", "wait_over_target"]
