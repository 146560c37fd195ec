"""The public booking page in a real Chromium at phone size (390 px), without and with
JavaScript: service → day → time → phone and name → confirmation; then cancel.

Screenshots land in artifacts/screenshots/book-*.png for people to look at.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from queue_app.extensions import db
from queue_app.models import Appointment, AppointmentStatus, OutboundMessage

from .conftest import PHONE, Api, Office, shot

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_a_citizen_books_on_a_phone(make_page, live_server, office: Office, javascript):
    api = Api(live_server.app, office)
    for code in ("CNI", "CASIER"):
        settings = {"booking_enabled": True, "slot_minutes": 20, "slot_capacity": 2}
        assert (
            api.patch(f"sites/thies/services/{code}", "manager", json=settings).status_code == 200
        )
    page = make_page(viewport=PHONE, java_script_enabled=javascript)
    suffix = "" if javascript else "-nojs"

    page.goto(f"{live_server.url}/book/thies")
    expect(page.get_by_role("heading", name="Prendre rendez-vous")).to_be_visible()
    expect(page.get_by_role("heading", name="Pour quel service venez-vous ?")).to_be_visible()
    shot(page, f"book-1-service{suffix}")
    page.get_by_role("link", name=re.compile("Carte nationale")).click()

    expect(page.get_by_text("Choisissez un jour.")).to_be_visible()
    days = page.locator(".book-choice")
    expect(days.first).to_contain_text("places")
    shot(page, f"book-2-day{suffix}")
    days.first.click()

    slots = page.locator("a.slot")
    expect(slots.first).to_be_visible()
    time_label = slots.first.inner_text()
    assert re.fullmatch(r"\d\d:\d\d", time_label)
    shot(page, f"book-3-time{suffix}")
    slots.first.click()

    expect(page.locator(".summary-when")).to_contain_text(time_label)
    page.get_by_label("Numéro de téléphone portable").fill("77 12")
    page.get_by_role("button", name="Confirmer le rendez-vous").click()
    expect(page.get_by_role("alert")).to_contain_text("pas valide")
    page.get_by_label("Numéro de téléphone portable").fill("77 123 45 67")
    page.get_by_label("Votre nom (facultatif)").fill("Awa Diop")
    shot(page, f"book-4-details{suffix}")
    page.get_by_role("button", name="Confirmer le rendez-vous").click()

    expect(page.get_by_role("heading", name="Votre rendez-vous est réservé")).to_be_visible()
    reference = page.locator("#reference").inner_text()
    assert re.fullmatch(r"[A-Z2-9]{6}", reference)
    expect(page.get_by_role("link", name="Ajouter à mon agenda")).to_have_attribute(
        "href", f"/book/thies/{reference}.ics"
    )
    # Nothing wider than the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, f"book-5-done{suffix}")
    with live_server.app.app_context():
        appointment = db.session.scalar(
            select(Appointment).where(Appointment.reference == reference)
        )
        assert appointment.name == "Awa Diop"
        assert appointment.phone == "+221771234567"
        sms = db.session.scalar(
            select(OutboundMessage).where(OutboundMessage.appointment_id == appointment.id)
        )
        assert reference in sms.body

    page.get_by_role("button", name="Annuler ce rendez-vous").click()
    expect(page.get_by_role("heading", name="Rendez-vous annulé")).to_be_visible()
    shot(page, f"book-6-cancelled{suffix}")
    with live_server.app.app_context():
        status = db.session.scalar(
            select(Appointment.status).where(Appointment.reference == reference)
        )
        assert status == AppointmentStatus.CANCELLED

    # Finding it again by its code, typed loosely.
    page.goto(f"{live_server.url}/book/thies/find")
    page.get_by_label("Code du rendez-vous").fill(reference.lower())
    page.get_by_role("button", name="Voir mon rendez-vous").click()
    expect(page.locator("#reference")).to_have_text(reference)


def test_a_citizen_corrects_an_empty_then_a_wrong_phone_on_a_phone(
    make_page, live_server, office: Office
):
    """Typing and clicking at 390×844: each mistake is said at the phone field, the name
    typed stays, nothing scrolls sideways, the button can be touched; then it books."""
    api = Api(live_server.app, office)
    settings = {"booking_enabled": True, "slot_minutes": 20, "slot_capacity": 2}
    assert api.patch("sites/thies/services/CNI", "manager", json=settings).status_code == 200
    page = make_page(viewport=PHONE)
    page.goto(f"{live_server.url}/book/thies")
    page.get_by_role("link", name=re.compile("Carte nationale")).click()
    page.locator(".book-choice").first.click()
    page.locator("a.slot").first.click()

    phone = page.get_by_label("Numéro de téléphone portable")
    name = page.get_by_label("Votre nom (facultatif)")
    confirm = page.get_by_role("button", name="Confirmer le rendez-vous")

    def check_layout() -> None:
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        confirm.scroll_into_view_if_needed()
        box = confirm.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"]
        middle = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        on_top = page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y)?.closest('button')?.textContent", middle
        )
        assert on_top
        assert "Confirmer" in on_top

    name.fill("Awa Diop")
    confirm.click()
    expect(page.locator("#phone-error")).to_contain_text("Saisissez votre numéro de portable")
    expect(phone).to_have_attribute("aria-describedby", "phone-error")
    expect(name).to_have_value("Awa Diop")
    check_layout()
    shot(page, "book-error-empty-phone")

    phone.fill("77 12")
    confirm.click()
    expect(page.locator("#phone-error")).to_contain_text("n'est pas valide")
    expect(phone).to_have_value("77 12")
    expect(name).to_have_value("Awa Diop")
    check_layout()
    shot(page, "book-error-wrong-phone")

    phone.fill("77 123 45 67")
    confirm.click()
    expect(page.get_by_role("heading", name="Votre rendez-vous est réservé")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    with live_server.app.app_context():
        booked = db.session.scalars(select(Appointment)).all()
        assert [(a.name, a.phone) for a in booked] == [("Awa Diop", "+221771234567")]


def test_a_slot_taken_meanwhile_offers_the_other_times_on_a_phone(
    make_page, live_server, office: Office
):
    """Someone else took the last place while the citizen typed: the form says so at the
    time, offers the other free times to tap, keeps the phone and name, then books."""
    api = Api(live_server.app, office)
    settings = {"booking_enabled": True, "slot_minutes": 30, "slot_capacity": 1}
    assert api.patch("sites/thies/services/CNI", "manager", json=settings).status_code == 200
    page = make_page(viewport=PHONE)
    page.goto(f"{live_server.url}/book/thies")
    page.get_by_role("link", name=re.compile("Carte nationale")).click()
    page.locator(".book-choice").first.click()
    first = page.locator("a.slot").first
    start = re.search(r"start=([^&]+)", first.get_attribute("href") or "")
    assert start
    first.click()
    page.get_by_label("Numéro de téléphone portable").fill("77 123 45 67")
    page.get_by_label("Votre nom (facultatif)").fill("Awa Diop")
    from urllib.parse import unquote

    taken = api.post(
        "sites/thies/appointments",
        json={"service": "CNI", "start": unquote(start.group(1)), "phone": "+221770000001"},
    )
    assert taken.status_code == 201, taken.get_json()
    page.get_by_role("button", name="Confirmer le rendez-vous").click()
    expect(page.locator("#start-error")).to_contain_text("vient d'être prise")
    expect(page.get_by_label("Numéro de téléphone portable")).to_have_value("77 123 45 67")
    expect(page.get_by_label("Votre nom (facultatif)")).to_have_value("Awa Diop")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "book-error-slot-taken")
    other = page.locator("label.slot-radio").nth(1)
    other_time = other.inner_text().strip()
    other.click()
    page.get_by_role("button", name="Confirmer le rendez-vous").click()
    expect(page.get_by_role("heading", name="Votre rendez-vous est réservé")).to_be_visible()
    expect(page.get_by_text(other_time)).to_be_visible()
