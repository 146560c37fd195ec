"""Booking by SMS end to end (console gateway), reminders and notices with a frozen clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from queue_app.extensions import db
from queue_app.jobs import appointments as jobs
from queue_app.models import (
    Appointment,
    AppointmentStatus,
    BookingChannel,
    MessageStatus,
    OutboundMessage,
    Site,
)
from queue_app.sms import inbound, texts
from queue_app.sms.gateway import Inbound

from .conftest import Api, build_office

# Monday 23 November 2026, 10:00 in Dakar (UTC).
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PHONE = "+221771234567"
WEEK = {d: [["08:00", "12:00"], ["14:00", "17:00"]]
        for d in ("monday", "tuesday", "wednesday", "thursday", "friday")}  # fmt: skip


@pytest.fixture
def app_config():
    return {"SMS_SENDING_HOURS": ["08:00", "17:00"]}


@pytest.fixture
def clock():
    with time_machine.travel(MONDAY_10, tick=False) as traveller:
        yield traveller


@pytest.fixture
def dakar(app, clock):
    office = build_office(app, slug="dakar", timezone="Africa/Dakar")
    api = Api(app, office)
    api.put("sites/dakar/hours", "manager", json=WEEK)
    for code in ("CNI", "CASIER"):
        settings = {"booking_enabled": True, "slot_minutes": 30, "slot_capacity": 1}
        api.patch(f"sites/dakar/services/{code}", "manager", json=settings)
    return api


def say(app, text, phone=PHONE, *, channel="sms", message_id=None, delivered=True):
    """The citizen sends ``text``; returns every text sent back (delivered by the outbox)."""
    with app.app_context():
        site = db.session.scalar(select(Site).where(Site.slug == "dakar"))
        last = db.session.scalar(select(OutboundMessage.id).order_by(OutboundMessage.id.desc()))
        message = Inbound("console", message_id or uuid.uuid4().hex, phone, text, channel=channel)
        inbound.receive(db.session, site, message, config=app.config)
        db.session.commit()
        jobs.deliver_outbox()
        answers = db.session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.id > (last or 0))
            .order_by(OutboundMessage.id)
        ).all()
        for answer in answers:
            assert texts.fits_one_segment(answer.body), answer.body
            if delivered:
                assert answer.status == MessageStatus.DELIVERED  # the console delivers at once
        return [answer.body for answer in answers]


def test_rdv_then_numbered_menus_books_and_confirms(dakar, app):
    (services,) = say(app, "RDV")
    assert services.startswith("Répondez par le numéro du service")
    assert "1 Casier judiciaire" in services
    assert "2 Carte nationale d'identité" in services
    (days,) = say(app, "2")
    assert "1 lun 23/11" in days  # today still has free times
    assert "2 mar 24/11" in days
    (times,) = say(app, "2")
    assert times.startswith("mar 24/11")
    assert "1 8h00" in times
    (confirmation,) = say(app, "1")
    with app.app_context():
        appointment = db.session.scalar(select(Appointment))
        assert appointment.channel == BookingChannel.SMS
        assert appointment.phone == PHONE
        assert appointment.service.code == "CNI"
        assert appointment.slot_start == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
        reference = appointment.reference
    assert confirmation.startswith(f"RDV {reference} confirmé")
    assert "24/11 à 8h00" in confirmation
    assert f"ANNULER {reference}" in confirmation


def test_the_one_line_form_books_directly(dakar, app):
    (confirmation,) = say(app, "rdv cni 24/11 9h30")
    assert "24/11 à 9h30" in confirmation
    # The same time again for someone else: full, the free times are offered instead.
    (taken,) = say(app, "RDV CNI 24/11 9h30", phone="+221771234568")
    assert "9h30" not in taken.split(":", 1)[1]
    assert "1 8h00" in taken


def test_one_line_form_with_demain_and_missing_parts(dakar, app):
    (confirmation,) = say(app, "RDV casier demain 14h")
    assert "24/11 à 14h00" in confirmation
    (days,) = say(app, "RDV CNI", phone="+221771234569")
    assert "numéro du jour" in days


def test_typos_lower_case_and_other_languages_are_understood(dakar, app):
    assert "service" in say(app, "rvd")[0]
    (english,) = say(app, "book", phone="+221700000001")
    assert english.startswith("Reply with the number of the service")
    (wolof,) = say(app, "Ndimbal", phone="+221700000002")
    assert "RDV" in wolof
    (nonsense,) = say(app, "bonjour je voudrais", phone="+221700000003")
    assert "RDV" in nonsense
    assert "ANNULER" in nonsense


def test_annuler_with_the_reference_cancels_and_frees_the_slot(dakar, app):
    say(app, "RDV CNI 24/11 9h")
    with app.app_context():
        reference = db.session.scalar(select(Appointment.reference))
    (status,) = say(app, "STATUT")
    assert reference in status
    (cancelled,) = say(app, f"annuler {reference.lower()}")
    assert reference in cancelled
    assert "annulé" in cancelled
    with app.app_context():
        assert db.session.scalar(select(Appointment.status)) == AppointmentStatus.CANCELLED
    # Somebody else's reference cannot be cancelled from this number.
    (confirmation,) = say(app, "RDV CNI 24/11 9h", phone="+221771234599")
    other = confirmation.split()[1]
    (refused,) = say(app, f"ANNULER {other}")
    assert "Aucun RDV" in refused


def test_a_retried_webhook_books_nothing_twice(dakar, app):
    first = say(app, "RDV CNI 24/11 9h", message_id="provider-id-1")
    again = say(app, "RDV CNI 24/11 9h", message_id="provider-id-1")
    assert len(first) == 1
    assert again == []
    with app.app_context():
        assert len(db.session.scalars(select(Appointment)).all()) == 1


def test_whatsapp_booking_is_confirmed_on_whatsapp(dakar, app):
    # WhatsApp goes through Twilio (not configured here: the message waits, failed).
    say(app, "RDV CNI 24/11 10h", channel="whatsapp", delivered=False)
    with app.app_context():
        message = db.session.scalar(select(OutboundMessage))
        assert message.channel == "whatsapp"
        assert db.session.scalar(select(Appointment.channel)) == BookingChannel.WHATSAPP


def test_reminders_the_day_before_and_hours_before_are_sent_once(dakar, app, clock):
    say(app, "RDV CNI 24/11 11h")  # Tuesday 11:00
    with app.app_context():
        assert jobs.send_reminders() == 0  # more than 24 hours ahead
    clock.move_to(datetime(2026, 11, 23, 11, 5, tzinfo=UTC))
    with app.app_context():
        assert jobs.send_reminders() == 1
        assert jobs.send_reminders() == 0  # a restarted job queues nothing new
        assert jobs.deliver_outbox() == 1
        assert jobs.deliver_outbox() == 0
    clock.move_to(datetime(2026, 11, 24, 9, 10, tzinfo=UTC))
    with app.app_context():
        assert jobs.send_reminders() == 1
        jobs.deliver_outbox()
        reminders = db.session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.kind.like("reminder%"))
            .order_by(OutboundMessage.id)
        ).all()
    assert [r.kind for r in reminders] == ["reminder_day_before", "reminder_same_day"]
    assert "demain" in reminders[0].body
    assert "aujourd'hui à 11h00" in reminders[1].body
    assert all(r.status == MessageStatus.DELIVERED for r in reminders)


def test_reminders_wait_for_sending_hours(dakar, app, clock):
    say(app, "RDV CNI 24/11 14h")  # the day-before reminder is due Monday 14:00
    clock.move_to(datetime(2026, 11, 23, 18, 0, tzinfo=UTC))  # the worker was down until 18:00
    with app.app_context():
        assert jobs.send_reminders() == 1
        assert jobs.deliver_outbox() == 0  # after sending hours: held
    clock.move_to(datetime(2026, 11, 24, 7, 30, tzinfo=UTC))
    with app.app_context():
        assert jobs.deliver_outbox() == 0  # not before 08:00
    clock.move_to(datetime(2026, 11, 24, 8, 0, 5, tzinfo=UTC))
    with app.app_context():
        assert jobs.deliver_outbox() == 1


def test_turn_near_is_sent_once_when_few_are_ahead(dakar, app):
    dakar.open_counter("g2")
    for _ in range(5):
        dakar.issue("CNI")
    ticket = dakar.issue("CNI", phone="77 123 45 67")
    with app.app_context():
        assert jobs.send_turn_near() == 0  # 5 ahead
    for _ in range(2):
        dakar.call_next("g2")
    with app.app_context():
        assert jobs.send_turn_near() == 1  # 3 ahead
        assert jobs.send_turn_near() == 0
        jobs.deliver_outbox()
        notice = db.session.scalar(
            select(OutboundMessage).where(OutboundMessage.kind == "turn_near")
        )
    assert ticket["label"] in notice.body
    assert "votre tour approche" in notice.body.lower()


def test_sms_simulate_command_answers(dakar, app):
    from queue_app.cli.commands import cli

    runner = app.test_cli_runner()
    result = runner.invoke(cli, ["sms-simulate", "--from", "77 123 45 67", "AIDE"])
    assert result.exit_code == 0, result.output
    assert "> AIDE" in result.output
    assert "< Pour prendre RDV" in result.output
