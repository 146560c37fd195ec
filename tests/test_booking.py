"""Slots, booking, cancelling, check-in and the call of appointment tickets.

The office is in Porto-Novo (UTC+1) so a UTC/local confusion shows; the clock
is frozen with time-machine where the hour matters.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from queue_app.extensions import db
from queue_app.jobs import appointments as jobs
from queue_app.jobs import retention
from queue_app.models import (
    Appointment,
    AppointmentStatus,
    OutboundMessage,
    PriorityClass,
    Site,
    Ticket,
    TicketSource,
)

from .conftest import Api, build_office

# Monday 23 November 2026, 07:00 in Porto-Novo (06:00 UTC).
MONDAY_7 = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
WEEK = {d: [["08:00", "12:00"], ["14:00", "17:00"]]
        for d in ("monday", "tuesday", "wednesday", "thursday", "friday")}  # fmt: skip


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A Porto-Novo wall-clock time as aware UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=1)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def clock():
    with time_machine.travel(MONDAY_7, tick=False) as traveller:
        yield traveller


@pytest.fixture
def porto(app, clock):
    office = build_office(app, slug="porto", timezone="Africa/Porto-Novo")
    api = Api(app, office)
    assert api.put("sites/porto/hours", "manager", json=WEEK).status_code == 200
    response = api.patch(
        "sites/porto/services/CNI",
        "manager",
        json={"booking_enabled": True, "slot_minutes": 30, "slot_capacity": 2,
              "booking_days_ahead": 10},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.get_json()["slot_capacity"] == 2
    return api


TUESDAY = date(2026, 11, 24)


def book(api, start, phone="+229 97 12 34 56", **extra):
    return api.post(
        "sites/porto/appointments",
        json={"service": "CNI", "start": iso(start), "phone": phone, **extra},
    )


def test_slots_follow_the_local_opening_hours(porto):
    slots = porto.get(f"sites/porto/services/CNI/slots?date={TUESDAY}").get_json()
    assert [s["local_time"] for s in slots][:3] == ["08:00", "08:30", "09:00"]
    assert [s["local_time"] for s in slots][-1] == "16:30"
    assert len(slots) == 8 + 6
    assert slots[0]["start"] == "2026-11-24T07:00:00Z"
    assert {s["available"] for s in slots} == {2}


def test_no_slots_on_closed_days_past_times_or_beyond_the_horizon(porto):
    assert porto.get("sites/porto/services/CNI/slots?date=2026-11-28").get_json() == []  # Saturday
    today = porto.get("sites/porto/services/CNI/slots?date=2026-11-23").get_json()
    assert today[0]["local_time"] == "08:00"  # 07:00 now, 30 minutes' lead
    assert porto.get("sites/porto/services/CNI/slots?date=2026-12-07").get_json() == []
    porto.put("sites/porto/closures", "manager", json=["2026-11-24"])
    assert porto.get(f"sites/porto/services/CNI/slots?date={TUESDAY}").get_json() == []
    # A service without booking offers nothing.
    assert porto.get(f"sites/porto/services/CASIER/slots?date={TUESDAY}").get_json() == []


def test_a_site_without_hours_books_within_the_default_hours(app, clock):
    office = build_office(app, slug="nohours", timezone="Africa/Dakar")
    api = Api(app, office)
    api.patch("sites/nohours/services/CNI", "manager", json={"booking_enabled": True})
    slots = api.get(f"sites/nohours/services/CNI/slots?date={TUESDAY}").get_json()
    assert [s["local_time"] for s in slots][:2] == ["08:00", "08:15"]
    assert slots[-1]["local_time"] == "16:45"
    app.config["BOOKING_DEFAULT_HOURS"] = None
    assert api.get(f"sites/nohours/services/CNI/slots?date={TUESDAY}").get_json() == []


def test_booking_fills_a_slot_and_the_next_one_gets_409(porto, app):
    start = local(TUESDAY, 9)
    first = book(porto, start, name="Awa Diop")
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["status"] == "booked"
    assert len(body["reference"]) == 6
    assert body["local_start"] == "2026-11-24 09:00"
    assert "phone" not in body  # public answer: no personal data
    assert book(porto, start, phone="+229 97 00 00 01").status_code == 201
    full = book(porto, start, phone="+229 97 00 00 02")
    assert full.status_code == 409
    assert full.get_json()["error"]["code"] == "slot_full"
    slots = porto.get(f"sites/porto/services/CNI/slots?date={TUESDAY}").get_json()
    assert next(s for s in slots if s["local_time"] == "09:00")["available"] == 0
    with app.app_context():
        appointment = db.session.scalar(select(Appointment).where(Appointment.name == "Awa Diop"))
        assert appointment.phone == "+2290197123456"  # Benin's old number, 10-digit plan
        assert appointment.site_id == porto.office.site.id
        confirmation = db.session.scalar(
            select(OutboundMessage).where(OutboundMessage.appointment_id == appointment.id)
        )
        assert confirmation.kind == "confirmation"
        assert appointment.reference in confirmation.body


def test_booking_refuses_what_is_not_a_slot(porto):
    assert book(porto, local(TUESDAY, 9, 10)).status_code == 400  # off the grid
    assert book(porto, local(TUESDAY, 12, 30)).status_code == 400  # lunch
    assert book(porto, local(date(2026, 11, 28), 9)).status_code == 400  # Saturday
    assert book(porto, local(TUESDAY, 9), phone="123").status_code == 400
    missing = porto.post("sites/porto/appointments", json={"service": "CNI"})
    assert missing.status_code == 400
    casier = porto.post(
        "sites/porto/appointments",
        json={"service": "CASIER", "start": iso(local(TUESDAY, 9)), "phone": "+22997123456"},
    )
    assert casier.status_code == 409
    assert casier.get_json()["error"]["code"] == "booking_closed"


def test_one_phone_books_one_slot_per_service_and_day(porto):
    assert book(porto, local(TUESDAY, 9)).status_code == 201
    again = book(porto, local(TUESDAY, 10))
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "already_booked"


def test_cancel_by_reference_gives_the_place_back(porto):
    start = local(TUESDAY, 9)
    ref = book(porto, start).get_json()["reference"]
    book(porto, start, phone="+229 97 00 00 01")
    cancelled = porto.post(f"appointments/{ref.lower()}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.get_json()["status"] == "cancelled"
    assert porto.post(f"appointments/{ref}/cancel").status_code == 200  # harmless again
    assert book(porto, start, phone="+229 97 00 00 02").status_code == 201
    assert porto.post("appointments/ZZZZZZ/cancel").status_code == 404


def test_check_in_window_and_answers(porto, clock):
    ref = book(porto, local(TUESDAY, 10)).get_json()["reference"]
    clock.move_to(local(TUESDAY, 8, 30))
    early = porto.post(f"appointments/{ref}/check-in", "kiosk")
    assert early.status_code == 422
    assert early.get_json()["error"]["code"] == "too_early"
    assert porto.post(f"appointments/{ref}/check-in").status_code == 401
    assert porto.post("appointments/NOPE99/check-in", "kiosk").status_code == 404
    clock.move_to(local(TUESDAY, 9, 30))
    checked = porto.post(f"appointments/{ref}/check-in", "kiosk", headers={"Idempotency-Key": "k1"})
    assert checked.status_code == 201, checked.get_json()
    ticket = checked.get_json()
    assert ticket["source"] == "appointment"
    assert ticket["label"] == "B-001"
    assert ticket["track_url"].endswith(ticket["code"])
    replay = porto.post(f"appointments/{ref}/check-in", "kiosk", headers={"Idempotency-Key": "k1"})
    assert replay.status_code == 200
    assert replay.get_json()["id"] == ticket["id"]
    again = porto.post(f"appointments/{ref}/check-in", "kiosk")
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "already_checked_in"
    assert porto.get(f"appointments/{ref}").get_json()["ticket"] == "B-001"


def test_check_in_too_late_and_cancelled(porto, clock):
    late_ref = book(porto, local(TUESDAY, 10)).get_json()["reference"]
    gone_ref = book(porto, local(TUESDAY, 11), phone="+229 97 00 00 01").get_json()["reference"]
    porto.post(f"appointments/{gone_ref}/cancel")
    clock.move_to(local(TUESDAY, 10, 16))
    late = porto.post(f"appointments/{late_ref}/check-in", "kiosk")
    assert late.status_code == 422
    assert late.get_json()["error"]["code"] == "too_late"
    clock.move_to(local(TUESDAY, 10, 50))
    gone = porto.post(f"appointments/{gone_ref}/check-in", "agent")
    assert gone.status_code == 409
    assert gone.get_json()["error"]["code"] == "appointment_cancelled"


def test_an_appointment_ticket_is_called_first_once_its_slot_has_come(porto, clock, app):
    ref = book(porto, local(TUESDAY, 10)).get_json()["reference"]
    clock.move_to(local(TUESDAY, 9, 20))
    porto.open_counter("g2")
    walk_in = porto.issue("CNI")
    priority = porto.issue("CNI", priority=True)
    assert porto.post(f"appointments/{ref}/check-in", "kiosk").status_code == 201
    # Before its slot (minus 5 minutes' grace) it waits: the others go first.
    assert porto.call_next("g2").get_json()["label"] == priority["label"]
    clock.move_to(local(TUESDAY, 9, 56))
    called = porto.call_next("g2").get_json()
    assert called["source"] == "appointment"
    assert porto.call_next("g2").get_json()["label"] == walk_in["label"]
    with app.app_context():
        ticket = db.session.get(Ticket, called["id"])
        assert ticket.priority_class == PriorityClass.APPOINTMENT
        assert ticket.source == TicketSource.APPOINTMENT


def test_an_idle_counter_calls_an_appointment_checked_in_early(porto, clock):
    ref = book(porto, local(TUESDAY, 10)).get_json()["reference"]
    later = book(porto, local(TUESDAY, 11), phone="+229 97 00 00 01").get_json()["reference"]
    clock.move_to(local(TUESDAY, 9, 20))
    porto.open_counter("g2")
    # Early: 40 minutes before its slot, more than the 5 minutes' lead. Nobody else waits.
    checked_in = porto.post(f"appointments/{ref}/check-in", "kiosk").get_json()
    called = porto.call_next("g2").get_json()
    assert called["label"] == checked_in["label"]
    assert called["source"] == "appointment"
    # Still early, it waits as one who came at its check-in: after those who came before.
    walk_in = porto.issue("CNI")
    clock.move_to(local(TUESDAY, 10, 20))
    assert porto.post(f"appointments/{later}/check-in", "kiosk").status_code == 201
    assert porto.call_next("g2").get_json()["label"] == walk_in["label"]
    assert porto.call_next("g2").get_json()["source"] == "appointment"
    assert porto.call_next("g2").status_code == 204


def test_day_close_marks_appointments_not_checked_in_as_no_show(porto, clock, app):
    ref = book(porto, local(TUESDAY, 9)).get_json()["reference"]
    came = book(porto, local(TUESDAY, 10), phone="+229 97 00 00 01").get_json()["reference"]
    clock.move_to(local(TUESDAY, 9, 55))
    porto.post(f"appointments/{came}/check-in", "kiosk")
    clock.move_to(local(TUESDAY, 17, 30))
    with app.app_context():
        assert jobs.close_days() == 0  # closing time 17:00 + 60 minutes' grace
    clock.move_to(local(TUESDAY, 18, 1))
    with app.app_context():
        assert jobs.close_days() == 1
        assert jobs.close_days() == 0
    assert porto.get(f"appointments/{ref}").get_json()["status"] == "no_show"
    assert porto.get(f"appointments/{came}").get_json()["status"] == "checked_in"


def test_a_closed_day_cancels_its_appointments_with_a_notice(porto, app):
    ref = book(porto, local(TUESDAY, 9)).get_json()["reference"]
    porto.put("sites/porto/closures", "manager", json=["2026-11-24"])
    with app.app_context():
        assert jobs.close_days() == 1
        notice = db.session.scalar(
            select(OutboundMessage).where(OutboundMessage.kind == "office_closed")
        )
        assert ref in notice.body
        assert "24/11" in notice.body
    assert porto.get(f"appointments/{ref}").get_json()["status"] == "cancelled"


def test_staff_list_the_days_appointments_with_masked_phones(porto):
    book(porto, local(TUESDAY, 9), name="Awa Diop")
    listed = porto.get(f"sites/porto/appointments?date={TUESDAY}", "agent").get_json()
    assert [a["name"] for a in listed] == ["Awa Diop"]
    assert listed[0]["phone"] == "+22901******56"
    assert porto.get(f"sites/porto/appointments?date={TUESDAY}").status_code == 401
    assert porto.get(f"sites/porto/appointments?date={TUESDAY}", "kiosk").status_code == 403


def test_booking_settings_are_validated(porto):
    bad = porto.patch("sites/porto/services/CNI", "manager", json={"slot_capacity": 0})
    assert bad.status_code == 400
    assert (
        porto.patch("sites/porto/services/CNI", "agent", json={"slot_minutes": 20}).status_code
        == 403
    )


def test_retention_erases_names_and_phones(porto, app, clock):
    book(porto, local(TUESDAY, 9), name="Awa Diop")
    clock.move_to(MONDAY_7 + timedelta(days=40))
    with app.app_context():
        assert retention.run() >= 2
        appointment = db.session.scalar(select(Appointment))
        assert appointment.phone is None
        assert appointment.name is None
        assert appointment.status == AppointmentStatus.BOOKED
        message = db.session.scalar(select(OutboundMessage))
        assert message.to_phone is None
        assert message.body is None
        assert db.session.scalar(select(Site)).slug == "porto"


def test_the_ics_file_is_a_calendar_event(porto, app):
    ref = book(porto, local(TUESDAY, 9)).get_json()["reference"]
    response = app.test_client().get(f"/book/porto/{ref}.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    text = response.get_data(as_text=True)
    assert "DTSTART:20261124T080000Z" in text
    assert "DTEND:20261124T083000Z" in text
    assert f"UID:{ref}@porto.guichet" in text


def test_an_agent_checks_a_citizen_in_from_the_console(porto, app, clock):
    from .test_agent_console import Agent

    ref = book(porto, local(TUESDAY, 10)).get_json()["reference"]
    clock.move_to(local(TUESDAY, 9, 40))
    agent = Agent(app.test_client(), porto.office)
    agent.sign_in()
    agent.open_counter("Guichet 2")
    agent.submit("/check-in", reference=ref.lower())
    assert "Enregistré : ticket B-001." in agent.text
    agent.submit("/check-in", reference=ref)
    assert "déjà enregistré" in agent.text
    agent.submit("/check-in", reference="ZZZ999")
    assert agent.status == 200
    assert "Introuvable" in agent.text or "introuvable" in agent.text.lower()


def test_only_the_sites_own_kiosk_or_staff_check_in(porto, app, clock):
    ref = book(porto, local(TUESDAY, 10)).get_json()["reference"]
    other = Api(app, build_office(app, slug="dakar"))
    clock.move_to(local(TUESDAY, 9, 40))
    assert porto.post(f"appointments/{ref}/check-in", "display").status_code == 403
    assert other.post(f"appointments/{ref}/check-in", "kiosk").status_code == 403
    assert other.post(f"appointments/{ref}/check-in", "agent").status_code == 403
    assert porto.post(f"appointments/{ref}/check-in", "agent").status_code == 201
