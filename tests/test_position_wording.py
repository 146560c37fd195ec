"""One wording for a place in the queue wherever a citizen reads it: the printed ticket, the
kiosk's ticket screen, the tracking page and the SMS ("Vous êtes le prochain !",
"1 personne avant vous", "3 personnes avant vous"), never "0 personnes avant vous"."""

from __future__ import annotations

import html
import json
import re
import uuid

import pytest
from sqlalchemy import select

from queue_app.extensions import db
from queue_app.models import Site, Ticket
from queue_app.printing.render import render
from queue_app.sms import inbound, notices
from queue_app.sms.gateway import Inbound
from queue_app.sms.texts import to_gsm

from .conftest import Api, Office

SAID = {0: "Vous êtes le prochain !", 1: "1 personne avant vous", 3: "3 personnes avant vous"}


def plain(text: str) -> str:
    """Text as read: entities decoded, no-break spaces as spaces, tags and runs of space gone."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


@pytest.fixture
def queue(app, office: Office, api: Api) -> list[dict]:
    """Four waiting tickets with phones: 0, 1, 2 and 3 people ahead of them."""
    return [api.issue("CNI", phone=f"+22177000000{n}") for n in range(4)]


@pytest.mark.parametrize("ahead", sorted(SAID))
def test_paper_page_and_sms_say_the_same(app, queue, ahead):
    ticket_json = queue[ahead]
    assert ticket_json["position"] == ahead
    expected = SAID[ahead]
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_json["id"])
        printed = render(ticket, None, ahead, ticket_json["estimated_wait_minutes"])
        assert expected in plain(printed.decode("cp1252", "replace"))

        site = db.session.scalar(select(Site))
        message = Inbound("console", uuid.uuid4().hex, ticket.phone, "STATUT")
        (status,) = inbound.receive(db.session, site, message, config=app.config)
        assert expected in plain(status)
        assert "0 personne" not in plain(status)

        notice = notices.turn_near(db.session, ticket, ahead, now=ticket.issued_at)
        assert notice is not None
        # In GSM-7 when the accented text would not fit 70 UCS-2 characters (ê → e).
        assert expected in plain(notice.body) or to_gsm(expected) in plain(notice.body)
        db.session.rollback()

    page = app.test_client().get(f"/t/{ticket_json['code']}")
    assert expected in plain(page.text)
    assert "0 personnes" not in plain(page.text)
    if ahead == 0:
        # The next one waits for nobody: no "0 min".
        assert "0 min" not in plain(page.text)


def test_the_live_pages_get_the_same_phrases(app, office: Office):
    """The tracking page's script and the kiosk's screen fill in the same templates."""
    page = app.test_client().get("/t/NOSUCH")
    assert page.status_code == 404
    api = Api(app, office)
    ticket = api.issue("CNI")
    track = app.test_client().get(f"/t/{ticket['code']}").text
    found = re.search(r'<script type="application/json" id="track-texts">(.*?)</script>', track)
    assert found
    texts = json.loads(html.unescape(found.group(1)))
    assert plain(texts["next"]) == SAID[0]
    assert plain(texts["ahead_one"]) == SAID[1]
    assert plain(texts["ahead_many"].replace("{n}", "3")) == SAID[3]
    kiosk = app.test_client().get(f"/kiosk/{office.slug}?token={office.tokens['kiosk']}").text
    found = re.search(r'<script type="application/json" id="kiosk-text">(.*?)</script>', kiosk)
    assert found
    kiosk_texts = json.loads(html.unescape(found.group(1)))
    for key in ("next", "ahead_one", "ahead_many", "wait"):
        assert kiosk_texts[key] == texts[key]
