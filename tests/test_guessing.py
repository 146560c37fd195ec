"""Guessing codes is slowed down; citizens with their codes are not.

Every public look-up by a tracking code or a reference answered every guess: a
script found a live appointment in about 25 minutes and could cancel it. Now
look-ups of codes that do not exist are counted per client address and
everywhere (LOOKUP_LIMIT_ADDRESS, LOOKUP_LIMIT_GLOBAL); over budget the caller
waits (429 with Retry-After: the API's error JSON, a page for a person) for
every look-up, a right code included, so it learns nothing more. The phones of
a waiting room behind one NAT address, following their own tickets, are never
counted. The budgets are small here so that the tests make few requests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from queue_app.extensions import socketio

from .conftest import Api, Office

GUESSER = "102.164.12.7"
CITIZEN = "41.82.77.3"
NAT = "196.207.1.10"
PER_ADDRESS = 5
EVERYWHERE = 12
SMALL = {
    "RATELIMIT_ENABLED": True,
    "LOOKUP_LIMIT_ADDRESS": f"{PER_ADDRESS} per minute;50 per hour",
    "LOOKUP_LIMIT_GLOBAL": f"{EVERYWHERE} per hour",
    # Other limits out of the way: only the guessing limits are looked at here.
    "RATELIMIT_BOOKING": "1000 per minute",
    "RATELIMIT_FEEDBACK": "1000 per minute",
    "RATELIMIT_COMPLAINTS": "1000 per hour",
}
MONDAY = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # Dakar is UTC+0
TUESDAY_NINE = "2026-03-03T09:00:00Z"


@pytest.fixture
def app_config() -> dict[str, Any]:
    return dict(SMALL)


@dataclass
class Codes:
    ticket: str
    appointment: str
    complaint: str


@pytest.fixture
def codes(app: Flask, office: Office) -> Iterator[Codes]:
    """A ticket, an appointment and a complaint of the office, on a Monday morning."""
    api = Api(app, office)
    with time_machine.travel(MONDAY, tick=True):
        enabled = api.patch("sites/thies/services/CNI", "manager", json={"booking_enabled": True})
        assert enabled.status_code == 200, enabled.get_json()
        booked = api.post(
            "sites/thies/appointments",
            environ_base={"REMOTE_ADDR": CITIZEN},
            json={"service": "CNI", "start": TUESDAY_NINE, "phone": "77 123 45 67"},
        )
        assert booked.status_code == 201, booked.get_json()
        complaint = api.post("sites/thies/complaints", json={"text": "Deux heures d'attente."})
        assert complaint.status_code == 201, complaint.get_json()
        yield Codes(
            ticket=api.issue("CNI")["code"],
            appointment=booked.get_json()["reference"],
            complaint=complaint.get_json()["reference"],
        )


@dataclass(frozen=True)
class Lookup:
    """One public way to look something up by a code."""

    name: str
    kind: str  # which code: ticket, appointment or complaint
    method: str
    path: str  # {code} is replaced
    answers: str  # "api" (error JSON), "page" (HTML for a person) or "image"
    form: str | None = None  # a form field carrying the code (with the page's CSRF token)

    def __call__(self, client: FlaskClient, code: str, address: str) -> Any:
        environ = {"REMOTE_ADDR": address}
        path = self.path.format(code=code)
        if self.method == "GET":
            return client.get(path, environ_base=environ)
        if self.answers == "api":
            body = {"rating": 4} if "feedback" in path else None
            return client.post(path, json=body, environ_base=environ)
        # A person's form: the CSRF token of the page it sits on.
        page = client.get("/book/thies/find", environ_base=environ)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        assert token, page.text[:300]
        data = {"csrf_token": token.group(1)}
        if self.form:
            data[self.form] = code
        return client.post(path, data=data, environ_base=environ)


LOOKUPS = [
    Lookup("appointment API", "appointment", "GET", "/api/v1/appointments/{code}", "api"),
    Lookup("appointment cancel API", "appointment", "POST",
           "/api/v1/appointments/{code}/cancel", "api"),
    Lookup("tracking API", "ticket", "GET", "/api/v1/track/{code}", "api"),
    Lookup("rating from the tracking page", "ticket", "POST",
           "/api/v1/track/{code}/feedback", "api"),
    Lookup("tracking page", "ticket", "GET", "/t/{code}", "page"),
    Lookup("kiosk QR image", "ticket", "GET", "/kiosk/qr/{code}.svg", "image"),
    Lookup("appointment page", "appointment", "GET", "/book/thies/{code}", "page"),
    Lookup("appointment calendar file", "appointment", "GET", "/book/thies/{code}.ics", "page"),
    Lookup("appointment cancel page", "appointment", "POST", "/book/thies/{code}/cancel", "page"),
    Lookup("find my appointment", "appointment", "POST", "/book/thies/find", "page",
           form="reference"),
    Lookup("complaint status page", "complaint", "GET", "/r/{code}", "page"),
]  # fmt: skip


def unknown(kind: str, n: int) -> str:
    """A well-formed code that does not exist."""
    length = {"ticket": 8, "appointment": 6, "complaint": 8}[kind]
    return (f"ZZ{n:02d}" + "XY" * 4)[:length].replace("0", "W").replace("1", "K")


def assert_slowed(lookup: Lookup, response: Any) -> None:
    """A 429 that says when to come back, in the caller's form."""
    assert response.status_code == 429, (lookup.name, response.status_code, response.text[:300])
    assert 0 < int(response.headers["Retry-After"]) <= 3600
    if lookup.answers == "api":
        assert response.get_json()["error"]["code"] == "too_many_requests"
    elif lookup.answers == "page":
        assert response.mimetype == "text/html"
        assert "Trop de codes inconnus" in response.text


@pytest.mark.parametrize("lookup", LOOKUPS, ids=lambda lookup: lookup.name)
def test_a_guesser_is_slowed_and_learns_nothing_more(
    app: Flask, codes: Codes, lookup: Lookup
) -> None:
    client = app.test_client()
    right = getattr(codes, lookup.kind)
    with time_machine.travel(MONDAY, tick=True):
        misses = [lookup(client, unknown(lookup.kind, n), GUESSER) for n in range(PER_ADDRESS)]
        assert all(r.status_code in (400, 404) for r in misses), [r.status_code for r in misses]
        assert_slowed(lookup, lookup(client, unknown(lookup.kind, 99), GUESSER))
        # Even the right code waits now: the guesser cannot tell a hit from a miss.
        assert_slowed(lookup, lookup(client, right, GUESSER))
        # The citizen who holds the code, elsewhere, is not concerned.
        found = lookup(app.test_client(), right, CITIZEN)
        assert found.status_code not in (404, 429), (lookup.name, found.status_code)


def test_the_phones_of_a_waiting_room_are_never_slowed(app: Flask, office: Office) -> None:
    api = Api(app, office)
    client = app.test_client()
    with time_machine.travel(MONDAY, tick=True):
        tickets = [api.issue("CNI")["code"] for _ in range(10)]
        # Ten phones behind the office's router poll their tickets, page and API...
        for _round in range(4):
            for code in tickets:
                assert (
                    client.get(
                        f"/api/v1/track/{code}", environ_base={"REMOTE_ADDR": NAT}
                    ).status_code
                    == 200
                )
                assert (
                    client.get(f"/t/{code}", environ_base={"REMOTE_ADDR": NAT}).status_code == 200
                )
        # ...and a few citizens mistype their code on the way: still far from the budget.
        for n in range(PER_ADDRESS - 1):
            assert (
                client.get(
                    f"/t/{unknown('ticket', n)}", environ_base={"REMOTE_ADDR": NAT}
                ).status_code
                == 404
            )
        assert client.get(f"/t/{tickets[0]}", environ_base={"REMOTE_ADDR": NAT}).status_code == 200


def test_guesses_spread_over_many_addresses_are_slowed_everywhere(app: Flask, codes: Codes) -> None:
    client = app.test_client()
    path = "/api/v1/appointments/{}"
    with time_machine.travel(MONDAY, tick=True):
        # One guess from each of many addresses: none of them reaches its own budget.
        for n in range(EVERYWHERE):
            address = f"197.{n}.0.1"
            miss = client.get(
                path.format(unknown("appointment", n)), environ_base={"REMOTE_ADDR": address}
            )
            assert miss.status_code == 404
        # The budget of the whole server is spent: those that guessed wait, even for a hit.
        again = client.get(
            path.format(codes.appointment), environ_base={"REMOTE_ADDR": "197.3.0.1"}
        )
        assert again.status_code == 429, again.get_json()
        # An address that never missed goes on as usual, until it misses once.
        fresh = {"REMOTE_ADDR": CITIZEN}
        assert client.get(path.format(codes.appointment), environ_base=fresh).status_code == 200
        assert (
            client.get(path.format(unknown("appointment", 77)), environ_base=fresh).status_code
            == 404
        )
        assert client.get(path.format(codes.appointment), environ_base=fresh).status_code == 429


def test_signed_in_staff_and_devices_are_not_counted(
    app: Flask, office: Office, codes: Codes
) -> None:
    api = Api(app, office)
    with time_machine.travel(MONDAY, tick=True):
        for n in range(PER_ADDRESS + 2):
            miss = api.get(
                f"track/{unknown('ticket', n)}", "agent", environ_base={"REMOTE_ADDR": NAT}
            )
            assert miss.status_code == 404
        kiosk = api.post(
            f"appointments/{unknown('appointment', 1)}/check-in",
            "kiosk",
            environ_base={"REMOTE_ADDR": NAT},
        )
        assert kiosk.status_code == 404
        assert (
            api.get(f"track/{codes.ticket}", environ_base={"REMOTE_ADDR": NAT}).status_code == 200
        )


def test_an_anonymous_check_in_learns_nothing(app: Flask, codes: Codes) -> None:
    client = app.test_client()
    for reference in (codes.appointment, unknown("appointment", 3)):
        response = client.post(f"/api/v1/appointments/{reference}/check-in")
        assert response.status_code == 401, response.get_json()


def socket_from(app: Flask, address: str) -> Any:
    http = app.test_client()
    http.environ_base["REMOTE_ADDR"] = address
    return socketio.test_client(app, flask_test_client=http)


def test_realtime_track_requests_are_look_ups_too(app: Flask, codes: Codes) -> None:
    with time_machine.travel(MONDAY, tick=True):
        guesser = socket_from(app, GUESSER)
        for n in range(PER_ADDRESS):
            answer = guesser.emit("track", {"code": unknown("ticket", n)}, callback=True)
            assert answer["error"]["code"] == "not_found"
        refused = guesser.emit("track", {"code": codes.ticket}, callback=True)
        assert refused["error"]["code"] == "too_many_requests", refused
        assert refused["error"]["details"]["retry_after"] > 0
        # The same budget as the pages and the API of that address.
        assert (
            app.test_client()
            .get(f"/t/{codes.ticket}", environ_base={"REMOTE_ADDR": GUESSER})
            .status_code
            == 429
        )
        phone = socket_from(app, CITIZEN)
        assert phone.emit("track", {"code": codes.ticket}, callback=True)["status"] == "waiting"
        guesser.disconnect()
        phone.disconnect()


def test_a_person_is_told_what_to_do(app: Flask, codes: Codes) -> None:
    client = app.test_client()
    with time_machine.travel(MONDAY, tick=True):
        for n in range(PER_ADDRESS + 1):
            page = client.get(f"/t/{unknown('ticket', n)}", environ_base={"REMOTE_ADDR": GUESSER})
        assert page.status_code == 429
        text = page.text
        assert "Trop de codes inconnus" in text
        assert "Patientez 1\u00a0minute" in text
        english = client.get(f"/t/{codes.ticket}?lang=en", environ_base={"REMOTE_ADDR": GUESSER})
        assert "Too many unknown codes" in english.text


@pytest.mark.browser
def test_on_a_phone_the_person_reads_why_and_for_how_long(
    make_page: Any, live_server: Any, codes: Codes
) -> None:
    from playwright.sync_api import expect

    from .conftest import PHONE, shot

    page = make_page(viewport=PHONE)
    page.goto(f"{live_server.url}/book/thies/find")
    field = page.get_by_label("Code du rendez-vous")
    for n in range(PER_ADDRESS):
        field.fill(unknown("appointment", n))
        page.get_by_role("button", name="Voir mon rendez-vous").click()
        expect(page.get_by_role("alert")).to_contain_text("Aucun rendez-vous")
    field.fill(codes.appointment)
    page.get_by_role("button", name="Voir mon rendez-vous").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Trop de codes inconnus ont été essayés depuis votre connexion")
    expect(alert).to_contain_text("Patientez 1\u00a0minute")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "guessing-find-refused")
    # The tracking page typed by hand says the same, and what to check.
    page.goto(f"{live_server.url}/t/{codes.ticket}")
    expect(page.get_by_text("Patientez un instant", exact=True)).to_be_visible()
    expect(page.get_by_text("Trop de codes inconnus ont été essayés")).to_be_visible()
    expect(page.get_by_text("imprimé sous le QR code de votre ticket")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "guessing-track-refused")
