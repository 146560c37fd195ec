"""Satisfaction: the counter's tablet asks after service, the citizen may rate on the phone,
once per ticket; each rating is linked to the ticket, service, counter, agent and site."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from queue_app.extensions import db, socketio
from queue_app.models import Feedback, utcnow

from .conftest import Api, build_office

WAIT = 5.0


class Inbox:
    def __init__(self, client):
        self.client = client
        self.events: list[tuple[str, dict]] = []

    def named(self, name: str) -> list[dict]:
        for item in self.client.get_received():
            self.events.append((item["name"], item["args"][0]))
        return [payload for event, payload in self.events if event == name]

    def wait(self, name: str, timeout: float = WAIT) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            found = self.named(name)
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no {name!r} within {timeout}s: {self.events}")
            time.sleep(0.005)


@pytest.fixture
def served(api, office):
    """A CNI ticket served by the agent at Guichet 1."""
    ticket = api.issue("CNI", phone="77 123 45 67")
    api.open_counter("g1")
    assert api.call_next("g1").status_code == 200
    assert api.post(f"tickets/{ticket['id']}/finish", "agent").status_code == 200
    return ticket


def test_the_tablet_rates_a_served_ticket_linked_to_everything(app, api, office, served):
    response = api.post(
        f"tickets/{served['id']}/feedback", "tablet", json={"rating": 4, "comment": "Merci !"}
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["rating"] == 4
    with app.app_context():
        feedback = db.session.scalar(select(Feedback))
        assert feedback.ticket_id == served["id"]
        assert feedback.site_id == office.site.id
        assert feedback.service_id == office.services["CNI"].id
        assert feedback.counter_id == office.counters["g1"].id
        assert feedback.agent_id == office.users["agent"].id
        assert feedback.source.value == "tablet"
        assert feedback.comment == "Merci !"
        assert feedback.service_day.isoformat() == served["service_day"]


def test_a_visit_is_rated_once_whichever_way(app, api, office, served):
    assert api.post(f"track/{served['code']}/feedback", json={"rating": 2}).status_code == 201
    again = api.post(f"tickets/{served['id']}/feedback", "tablet", json={"rating": 5})
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "already_rated"
    twice = api.post(f"track/{served['code']}/feedback", json={"rating": 5})
    assert twice.status_code == 409
    with app.app_context():
        assert [f.rating for f in db.session.scalars(select(Feedback))] == [2]


def test_only_a_served_ticket_and_only_in_time(app, api, office):
    waiting = api.issue("CNI")
    early = api.post(f"tickets/{waiting['id']}/feedback", "tablet", json={"rating": 5})
    assert early.status_code == 422
    assert early.get_json()["error"]["code"] == "not_served"
    api.open_counter("g1")
    api.call_next("g1")
    api.post(f"tickets/{waiting['id']}/finish", "agent")
    later = utcnow() + timedelta(minutes=31)
    with time_machine.travel(later, tick=False):
        late = api.post(f"tickets/{waiting['id']}/feedback", "tablet", json={"rating": 5})
        assert late.status_code == 422
        assert late.get_json()["error"]["code"] == "feedback_closed"
        # On the phone, the citizen still has two days.
        assert api.post(f"track/{waiting['code']}/feedback", json={"rating": 5}).status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"rating": 0},
        {"rating": 6},
        {"rating": "5"},
        {"rating": True},
        {"rating": 4.5},
        {},
        {"rating": 4, "comment": "a\x00b"},
        {"rating": 4, "comment": "x" * 1001},
        {"rating": 4, "extra": 1},
    ],
)
def test_bad_ratings_are_refused_clearly(api, served, body):
    response = api.post(f"tickets/{served['id']}/feedback", "tablet", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] in ("invalid_request", "invalid_input")


@pytest.mark.parametrize(("who", "status"), [("kiosk", 403), ("display", 403), ("agent", 403)])
def test_only_a_tablet_of_the_office_rates_on_the_counter(api, served, who, status):
    response = api.post(f"tickets/{served['id']}/feedback", who, json={"rating": 5})
    assert response.status_code == status


def test_a_tablet_of_another_office_is_refused(app, api, served):
    other = build_office(app, slug="dakar")
    response = api.post(
        f"tickets/{served['id']}/feedback", other.tokens["tablet"], json={"rating": 1}
    )
    assert response.status_code == 403


def test_the_tablet_is_woken_after_the_commit_and_told_when_rated_elsewhere(app, api, office):
    counter_id = office.counters["g1"].id
    tablet = Inbox(
        socketio.test_client(app, auth={"token": office.tokens["tablet"], "counter": counter_id})
    )
    other_counter = Inbox(
        socketio.test_client(
            app, auth={"token": office.tokens["tablet"], "counter": office.counters["g2"].id}
        )
    )
    ticket = api.issue("CNI", phone="+221771234567")
    api.open_counter("g1")
    api.call_next("g1")
    assert tablet.named("feedback_request") == []
    api.post(f"tickets/{ticket['id']}/finish", "agent")
    request = tablet.wait("feedback_request")
    assert request["ticket_id"] == ticket["id"]
    assert request["label"] == ticket["label"]
    assert request["counter"] == "Guichet 1"
    # No phone number in a payload (its nine digits: "77" alone may be in a timestamp).
    assert "phone" not in request
    assert "771234567" not in str(request)
    assert other_counter.named("feedback_request") == []
    api.post(f"track/{ticket['code']}/feedback", json={"rating": 3})
    assert tablet.wait("feedback_done")["ticket_id"] == ticket["id"]


def test_a_display_token_or_a_foreign_counter_joins_no_counter_room(app, office):
    foreign = build_office(app, slug="dakar")
    display = Inbox(
        socketio.test_client(
            app, auth={"token": office.tokens["display"], "counter": office.counters["g1"].id}
        )
    )
    stranger = Inbox(
        socketio.test_client(
            app, auth={"token": foreign.tokens["tablet"], "counter": office.counters["g1"].id}
        )
    )
    api = Api(app, office)
    ticket = api.issue("CNI")
    api.open_counter("g1")
    api.call_next("g1")
    # Moments are emitted by the request's own commit, before its answer.
    api.post(f"tickets/{ticket['id']}/finish", "agent")
    assert display.named("feedback_request") == []
    assert stranger.named("feedback_request") == []


def test_the_tablet_fallback_poll(api, office, served):
    counter_id = office.counters["g1"].id
    prompt = api.get(f"counters/{counter_id}/feedback-prompt", "tablet")
    assert prompt.status_code == 200
    assert prompt.get_json()["ticket_id"] == served["id"]
    assert api.get(f"counters/{counter_id}/feedback-prompt", "kiosk").status_code == 403
    api.post(f"tickets/{served['id']}/feedback", "tablet", json={"rating": 5})
    assert api.get(f"counters/{counter_id}/feedback-prompt", "tablet").status_code == 204


def test_the_tracking_page_asks_once_the_ticket_is_served(client, api, office):
    ticket = api.issue("CNI")
    page = client.get(f"/t/{ticket['code']}").get_data(as_text=True)
    # Present, hidden until the page sees the ticket "done" live.
    assert 'class="track-state rate-card" id="rate" data-show="done"' in page
    api.open_counter("g1")
    api.call_next("g1")
    api.post(f"tickets/{ticket['id']}/finish", "agent")
    done = client.get(f"/t/{ticket['code']}").get_data(as_text=True)
    assert "Êtes-vous satisfait\u00a0?" in done
    assert 'data-state="ask"' in done
    api.post(f"track/{ticket['code']}/feedback", json={"rating": 5})
    after = client.get(f"/t/{ticket['code']}").get_data(as_text=True)
    assert 'data-state="thanks"' in after
    gone = api.issue("CNI")
    api.post(f"tickets/{gone['id']}/cancel", "agent")
    assert 'id="rate"' not in client.get(f"/t/{gone['code']}").get_data(as_text=True)


@pytest.mark.parametrize(
    "app_config", [{"RATELIMIT_ENABLED": True, "RATELIMIT_FEEDBACK": "2 per minute"}]
)
def test_ratings_from_tracking_pages_are_rate_limited(api, app_config):
    responses = [api.post("track/NOPE1234/feedback", json={"rating": 5}) for _ in range(3)]
    assert [r.status_code for r in responses] == [404, 404, 429]
    assert responses[-1].get_json()["error"]["code"] == "too_many_requests"


def test_the_tablet_page_needs_a_tablet_token_of_the_office(client, office):
    counter_id = office.counters["g1"].id
    good = client.get(f"/feedback/{counter_id}?token={office.tokens['tablet']}")
    assert good.status_code == 200
    assert good.headers["Cache-Control"] == "no-store"
    html = good.get_data(as_text=True)
    assert "Êtes-vous satisfait\u00a0?" in html
    assert html.count('class="face-button"') == 5
    assert client.get(f"/feedback/{counter_id}?token={office.tokens['kiosk']}").status_code == 403
    assert client.get(f"/feedback/{counter_id}?token=gd_nope").status_code == 403
    assert client.get("/feedback/999999").status_code == 404
