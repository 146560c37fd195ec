"""SMS to a number several offices share (a national short code, one gateway phone): the
citizen is always answered, for the office named in the message or chosen from a list,
and the choice is kept for the conversation. Through the real webhooks, fake providers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from queue_app.extensions import db
from queue_app.models import OutboundMessage, Site

from .conftest import Api, build_office
from .fake_providers import FakeProviders
from .sms_helpers import provider_config
from .test_sms_gateways import android_post, received, twilio_post

PHONE = "+221771234567"
SHORT_CODE = "+15005550006"  # TWILIO_FROM of provider_config: the app's own number
WEEK = {d: [["08:00", "12:00"], ["14:00", "17:00"]]
        for d in ("monday", "tuesday", "wednesday", "thursday", "friday")}  # fmt: skip


@pytest.fixture(autouse=True)
def _tuesday_morning():
    with time_machine.travel(datetime(2026, 12, 1, 10, 0, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def fake():
    with FakeProviders() as providers:
        yield providers


@pytest.fixture
def app_config(fake):
    return provider_config(fake.url)


@pytest.fixture
def offices(app):
    """Thiès and Dakar, both booking CNI, both on the app's own gateway (no own settings)."""
    apis = {}
    for slug in ("thies", "dakar"):
        api = Api(app, build_office(app, slug=slug))
        assert api.put(f"sites/{slug}/hours", "manager", json=WEEK).status_code == 200
        settings = {"booking_enabled": True, "slot_minutes": 30}
        assert api.patch(f"sites/{slug}/services/CNI", "manager", json=settings).status_code == 200
        apis[slug] = api
    return apis


class Texter:
    """A citizen's phone writing to the shared number through Twilio's webhook."""

    def __init__(self, app, phone: str = PHONE) -> None:
        self.app, self.phone, self.sent = app, phone, 0

    def say(self, body: str) -> list[tuple[str, str]]:
        """(office slug, text) of each reply to ``body``."""
        self.sent += 1
        with self.app.app_context():
            last = db.session.scalar(select(OutboundMessage.id).order_by(OutboundMessage.id.desc()))
        form = {"From": self.phone, "To": SHORT_CODE, "Body": body,
                "MessageSid": f"SM{self.phone[-4:]}{self.sent:028d}"}  # fmt: skip
        assert twilio_post(self.app.test_client(), form).status_code == 200
        with self.app.app_context():
            rows = db.session.scalars(
                select(OutboundMessage)
                .where(OutboundMessage.id > (last or 0))
                .order_by(OutboundMessage.id)
            ).all()
            return [(db.session.get(Site, r.site_id).slug, r.body) for r in rows]


def test_the_office_named_in_the_message_answers(app, offices):
    ((office, reply),) = Texter(app).say("RDV THIES CNI")
    assert office == "thies"
    assert "numéro du jour" in reply
    # The keyword is found anywhere, in any case, with or without accents.
    ((office, reply),) = Texter(app, "+221771234568").say("rdv cni Dakar")
    assert office == "dakar"
    assert "numéro du jour" in reply


def test_no_office_named_gets_the_list_and_the_choice_is_kept(app, offices):
    texter = Texter(app)
    ((_office, listed),) = texter.say("RDV CNI")
    assert "Quel bureau" in listed
    assert "1 thies" in listed
    assert "2 dakar" in listed
    # The choice answers the first message at once ("RDV CNI": the days of Dakar's CNI).
    ((office, days),) = texter.say("2")
    assert office == "dakar"
    assert "numéro du jour" in days
    # And the conversation goes on with that office.
    ((office, times),) = texter.say("1")
    assert office == "dakar"
    assert "numéro de l'heure" in times
    ((office, status),) = texter.say("STATUT")
    assert office == "dakar"


def test_a_wrong_choice_gets_the_list_again(app, offices):
    texter = Texter(app)
    texter.say("AIDE")
    ((_office, again),) = texter.say("7")
    assert "Quel bureau" in again


def test_an_office_keyword_set_by_the_admin_is_understood(app, offices):
    response = offices["thies"].patch("sites/thies", "admin", json={"sms_keyword": "Tivaouane"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["sms_keyword"] == "TIVAOUANE"
    # Another office cannot take it.
    taken = offices["dakar"].patch("sites/dakar", "admin", json={"sms_keyword": "TIVAOUANE"})
    assert taken.status_code == 409
    ((office, _reply),) = Texter(app).say("RDV TIVAOUANE CNI")
    assert office == "thies"


def test_one_gateway_phone_set_up_for_two_offices_is_answered(app, offices, fake):
    """Both offices configured with the same Android gateway phone: not dropped."""
    body = {"gateway": "android", "options": {"login": "phone"},
            "secrets": {"password": "p", "signing_key": "shared-key"}}  # fmt: skip
    for slug, api in offices.items():
        response = api.put(f"sites/{slug}/sms-gateway", "manager", json=body)
        assert response.status_code == 200, response.get_json()
    with app.app_context():
        last = db.session.scalar(select(OutboundMessage.id).order_by(OutboundMessage.id.desc()))
    response = android_post(app.test_client(), received("ev-shared", "RDV"), key="shared-key")
    assert response.status_code == 200
    with app.app_context():
        replies = db.session.scalars(
            select(OutboundMessage).where(OutboundMessage.id > (last or 0))
        ).all()
        assert len(replies) == 1
        assert "Quel bureau" in replies[0].body
        assert replies[0].gateway == "android"
