"""Senders' numbers as gateways give them: Benin's old 8-digit numbers (10 digits since
30 November 2024: "01" + the old number) are read in both forms, and a number that
cannot be read is answered with a helpful SMS, never silence. Real webhooks, fakes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from queue_app.extensions import db
from queue_app.models import OutboundMessage
from queue_app.queue.phones import normalize_phone, region_of

from .conftest import build_office
from .fake_providers import FakeProviders
from .sms_helpers import provider_config
from .test_sms_gateways import android_post, received


@pytest.fixture(autouse=True)
def _tuesday_morning():
    with time_machine.travel(datetime(2026, 12, 1, 10, 0, tzinfo=UTC), tick=True):
        yield


@pytest.fixture
def fake():
    with FakeProviders() as providers:
        yield providers


@pytest.fixture
def app_config(fake):
    return provider_config(fake.url)


@pytest.fixture
def porto_novo(app):
    build_office(app, slug="porto", timezone="Africa/Porto-Novo")


def replies(app) -> list[OutboundMessage]:
    with app.app_context():
        return list(db.session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))


@pytest.mark.parametrize(
    "sender",
    ["97123456", "97 12 34 56", "+22997123456", "22997123456", "+2290197123456", "0197123456"],
)
def test_a_beninese_number_old_or_new_is_answered_at_its_new_form(app, fake, porto_novo, sender):
    response = android_post(app.test_client(), received(f"ev-{sender}", "AIDE", phone=sender))
    assert response.status_code == 200
    (reply,) = replies(app)
    assert reply.to_phone == "+2290197123456"
    assert "RDV" in reply.body


def test_the_old_form_is_read_by_region_or_by_country_code():
    assert region_of("Africa/Porto-Novo", "SN") == "BJ"
    assert region_of("Africa/Dakar", "BJ") == "SN"
    assert normalize_phone("97 12 34 56", "BJ") == "+2290197123456"
    assert normalize_phone("+229 97 12 34 56", "SN") == "+2290197123456"
    assert normalize_phone("00229 97 12 34 56", "SN") == "+2290197123456"
    assert normalize_phone("tel:+22997123456", "SN") == "+2290197123456"
    assert normalize_phone("77 123 45 67", "SN") == "+221771234567"


def test_a_number_that_cannot_be_read_gets_a_helpful_answer(app, fake, porto_novo):
    response = android_post(app.test_client(), received("ev-bad", "RDV", phone="12345"))
    assert response.status_code == 200
    (reply,) = replies(app)
    assert reply.to_phone == "12345"
    assert "pas pu lire votre numéro" in reply.body
    assert "/book/porto" in reply.body
