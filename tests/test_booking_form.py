"""The booking page's form: every wrong input shows the form again with a message at its
field and what was typed kept (never a bare 400). The browser test is in test_booking_page.py."""

from __future__ import annotations

import html as html_module
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from queue_app.extensions import db
from queue_app.models import Appointment

from .conftest import Api, build_office
from .test_booking import MONDAY_7, TUESDAY, WEEK, book, clock, local  # noqa: F401


@pytest.fixture
def porto(app, clock):  # noqa: F811 - the clock of test_booking
    office = build_office(app, slug="porto", timezone="Africa/Porto-Novo")
    api = Api(app, office)
    assert api.put("sites/porto/hours", "manager", json=WEEK).status_code == 200
    settings = {"booking_enabled": True, "slot_minutes": 30, "slot_capacity": 1,
                "booking_days_ahead": 10}  # fmt: skip
    assert api.patch("sites/porto/services/CNI", "manager", json=settings).status_code == 200
    return api


def post(client, start, phone="", name=""):
    # The token of the form as a free slot's page shows it (a stale page posts another start).
    free = local(TUESDAY, 10)
    query = {"service": "CNI", "day": free.date().isoformat(), "start": free.isoformat()}
    page = client.get("/book/porto", query_string=query)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
    assert token, page.text
    return client.post(
        "/book/porto",
        data={"csrf_token": token.group(1), "service": "CNI", "start": start.isoformat(),
              "phone": phone, "name": name},
    )  # fmt: skip


def field_error(html: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field}-error"[^>]*>([^<]+)</p>', html)
    return html_module.unescape(found.group(1)) if found else ""


def appointments(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Appointment))


def test_an_empty_phone_is_asked_for_at_its_field_and_the_name_kept(app, porto):
    client = app.test_client()
    response = post(client, local(TUESDAY, 9), phone="", name="Awa Diop")
    assert response.status_code == 400
    assert "Saisissez votre numéro de portable" in field_error(response.text, "phone")
    assert 'aria-describedby="phone-error"' in response.text
    assert 'value="Awa Diop"' in response.text
    assert appointments(app) == 0


def test_an_unreadable_phone_is_explained_at_its_field_and_kept(app, porto):
    client = app.test_client()
    response = post(client, local(TUESDAY, 9), phone="77 12", name="Awa")
    assert response.status_code == 400
    message = field_error(response.text, "phone")
    assert "n'est pas valide" in message
    # The example is a number of the office's country (Benin: 10 digits since 2024).
    assert "01\u00a095\u00a012\u00a034\u00a056" in message
    assert "+229" in message
    assert 'value="77 12"' in response.text
    assert 'placeholder="01 95 12 34 56"' in response.text
    assert appointments(app) == 0


def test_a_full_slot_offers_the_other_free_times_with_the_details_kept(app, porto):
    assert book(porto, local(TUESDAY, 9)).status_code == 201
    client = app.test_client()
    response = post(client, local(TUESDAY, 9), phone="+229 01 97 00 00 01", name="Koffi")
    assert response.status_code == 400
    assert "vient d'être prise" in field_error(response.text, "start")
    assert 'value="+229 01 97 00 00 01"' in response.text
    assert 'value="Koffi"' in response.text
    # The other free times of the day, to pick right there.
    assert 'type="radio" name="start"' in response.text
    assert local(TUESDAY, 9, 30).isoformat() in response.text


def test_a_day_beyond_the_window_says_until_when_one_can_book(app, porto):
    client = app.test_client()
    far = local(date(2026, 12, 15), 9)  # 22 days ahead, the window is 10
    response = post(client, far, phone="01 97 12 34 56", name="")
    assert response.status_code == 400
    message = field_error(response.text, "start")
    assert "trop loin" in message, response.text
    assert "jeudi 3 décembre" in message
    assert 'value="01 97 12 34 56"' in response.text


def test_a_closed_day_is_said_to_be_closed(app, porto):
    client = app.test_client()
    sunday = local(date(2026, 11, 29), 9)
    response = post(client, sunday, phone="01 97 12 34 56")
    assert response.status_code == 400
    assert "fermé ce jour-là" in field_error(response.text, "start")


@pytest.mark.parametrize("app_config", [{"BOOKING_NAME_REQUIRED": True}])
def test_a_required_name_is_asked_for(app, porto, app_config):
    client = app.test_client()
    response = post(client, local(TUESDAY, 9), phone="97 12 34 56", name="  ")
    assert response.status_code == 400
    assert "Saisissez votre nom" in field_error(response.text, "name")
    assert 'value="97 12 34 56"' in response.text
    assert appointments(app) == 0


def test_an_old_eight_digit_beninese_number_books_at_its_new_form(app, porto):
    client = app.test_client()
    response = post(client, local(TUESDAY, 9), phone="97 12 34 56", name="Koffi")
    assert response.status_code == 302, response.text
    with app.app_context():
        assert db.session.scalar(select(Appointment.phone)) == "+2290197123456"
