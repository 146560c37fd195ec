"""The console and sign-in pages as people use them (Flask test client, CSRF on).

Each test here failed before its fix: the check-in form left open around the reprint
form, a typed tracking code not found for a reprint, an admin landing on the counter
chooser, an office picker that only worked with an inline script the CSP blocks, and
a GET to /logout answered with a bare 405.
"""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from queue_app.extensions import db
from queue_app.models import (
    Appointment,
    AppointmentStatus,
    Device,
    DeviceKind,
    PrintJob,
    Site,
    User,
    utcnow,
)
from queue_app.queue.days import service_day

from .conftest import PASSWORD, Api, Office, build_office
from .test_agent_console import Agent, counter_id, forms_of

TEMPLATES = Path(__file__).resolve().parent.parent / "queue_app" / "templates"
DISPLAY_TEMPLATES = Path(__file__).resolve().parent.parent / "display" / "templates"


class _FormNesting(HTMLParser):
    """Forms opened inside forms (a browser drops the inner <form> tag) and unclosed ones."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.nested: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            action = dict(attrs).get("action") or ""
            if self.open:
                self.nested.append((self.open[-1], action))
            self.open.append(action)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.open:
            self.open.pop()


@pytest.fixture
def agent(client: FlaskClient, office: Office) -> Agent:
    return Agent(client, office)


def form_nesting(html: str) -> _FormNesting:
    parser = _FormNesting()
    parser.feed(html)
    return parser


def give_the_kiosk_a_printer(app, office: Office, url: str = "tcp://192.0.2.1:9100") -> None:
    """The office's kiosk prints (a reprint goes to it); by default to no printer at all."""
    with app.app_context():
        kiosk = db.session.scalar(
            select(Device).where(Device.site_id == office.site.id, Device.kind == DeviceKind.KIOSK)
        )
        kiosk.printer = url
        db.session.commit()


def book_for_soon(app, office: Office, reference: str = "K7P4XM") -> str:
    """A booked appointment starting in ten minutes (inside the check-in window)."""
    with app.app_context():
        site = db.session.get(Site, office.site.id)
        start = utcnow().replace(microsecond=0) + timedelta(minutes=10)
        db.session.add(
            Appointment(
                site_id=site.id,
                service_id=office.services["CNI"].id,
                reference=reference,
                slot_start=start,
                slot_end=start + timedelta(minutes=15),
                service_day=service_day(site, start),
                status=AppointmentStatus.BOOKED,
            )
        )
        db.session.commit()
    return reference


# --- the console's forms ------------------------------------------------------------------


def test_the_consoles_forms_are_each_closed(agent, api, office):
    """Check-in and reprint are two forms: a browser keeps no <form> opened inside another."""
    agent.sign_in()
    agent.open_counter("Guichet 2")
    for html in (agent.html, agent.get(f"/agent/counters/{counter_id(office, 'g2')}/panel").text):
        nesting = form_nesting(html)
        assert nesting.nested == [], f"forms inside forms: {nesting.nested}"
        assert nesting.open == [], f"forms never closed: {nesting.open}"


def test_an_agent_checks_in_an_appointment_by_its_typed_code(app, agent, office):
    reference = book_for_soon(app, office)
    agent.sign_in()
    agent.open_counter("Guichet 2")
    form = agent.form("/check-in")
    # The check-in form holds its own field and button only, not the reprint's.
    assert [text for _n, _v, text in form.buttons] == ["Enregistrer"]
    agent.submit("/check-in", reference=" k7p4xm ")
    assert agent.status == 200
    assert "Enregistré : ticket B-001." in agent.text
    with app.app_context():
        appointment = db.session.scalar(
            select(Appointment).where(Appointment.reference == reference)
        )
        assert appointment.status == AppointmentStatus.CHECKED_IN


@pytest.mark.parametrize("typed", ["b7", "B-007", "{code_lower}", "{code_spaced}"])
def test_an_agent_reprints_a_ticket_by_its_number_or_typed_tracking_code(
    app, agent, api, office, typed
):
    tickets = [api.issue("CNI") for _ in range(7)]
    code = tickets[-1]["code"]
    typed = typed.format(code_lower=code.lower(), code_spaced=f" {code[:4]} {code[4:]} ")
    give_the_kiosk_a_printer(app, office)
    agent.sign_in()
    agent.open_counter("Guichet 2")
    agent.submit("/reprint", label=typed)
    assert agent.status == 200
    assert "Réimpression envoyée à l'imprimante de la borne : B-007." in agent.text, agent.text
    with app.app_context():
        assert db.session.scalar(select(PrintJob).where(PrintJob.kind == "reprint")) is not None


def test_a_reprint_of_an_unknown_or_other_offices_ticket_is_refused(app, agent, api, office):
    other = build_office(app, slug="dakar")
    foreign = Api(app, other).issue("CNI")["code"]
    give_the_kiosk_a_printer(app, office)
    agent.sign_in()
    agent.open_counter("Guichet 2")
    for typed in ("B-042", "ZZZZ2222", foreign):
        agent.submit("/reprint", label=typed)
        assert agent.status == 200
        assert "Aucun ticket" in agent.text
    with app.app_context():
        assert db.session.scalar(select(PrintJob).where(PrintJob.kind == "reprint")) is None


# --- landing after signing in --------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "landing"), [("admin", "/admin/"), ("manager", "/admin/"), ("agent", "/agent/")]
)
def test_each_role_lands_on_its_own_page_after_signing_in(app, office, who, landing):
    """As a person arrives: the address of the application, sent on to the sign-in form."""
    person = Agent(app.test_client(), office)
    login = person.get("/").headers["Location"]
    login = person.get(login).headers.get("Location", login)
    person.get(login)
    fields = {**person.form("").fields, "email": office.users[who].email, "password": PASSWORD}
    response = person.client.post(login, data=fields)
    assert response.headers["Location"] == landing
    # Also from the console's address, where a bookmark or the brand link leads.
    again = Agent(app.test_client(), office)
    login = again.get("/agent/").headers["Location"]
    again.get(login)
    fields = {**again.form("").fields, "email": office.users[who].email, "password": PASSWORD}
    assert again.client.post(login, data=fields).headers["Location"] == landing
    # Signed in already, the sign-in page sends them there too.
    assert again.get("/login").headers["Location"] == landing


# --- the office picker -----------------------------------------------------------------


def test_no_template_has_an_inline_script_handler():
    """The Content-Security-Policy blocks onclick=, onchange=…: they would do nothing."""
    import re

    handler = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
    found = [
        str(path)
        for root in (TEMPLATES, DISPLAY_TEMPLATES)
        for path in root.rglob("*.html")
        if handler.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_an_agent_of_two_offices_switches_office_with_a_button(app, agent, office):
    other = build_office(app, slug="dakar")
    with app.app_context():
        user = db.session.get(User, office.users["agent"].id)
        user.sites.append(db.session.get(Site, other.site.id))
        db.session.commit()
    agent.sign_in()
    agent.get("/agent/")
    (picker,) = [f for f in forms_of(agent.html) if f.action == ""]  # reloads this page
    assert ("", "", "Afficher ce bureau") in picker.buttons
    assert "<noscript>" not in agent.html
    response = agent.get("/agent/", query_string={**picker.fields, "site": "dakar"})
    assert response.status_code == 200
    assert "Espace Sénégal Services dakar" in agent.text
    dakar_g1 = other.counters["g1"].id
    assert agent.has_form(f"/agent/counters/{dakar_g1}/open")
    assert not agent.has_form(f"/agent/counters/{counter_id(office, 'g1')}/open")


# --- signing out ---------------------------------------------------------------------------


def test_sign_out_by_address_asks_first_and_needs_the_forms_token(agent, office):
    agent.sign_in()
    page = agent.get("/logout")
    assert page.status_code == 200
    assert "Se déconnecter" in agent.text
    # Only asked: still signed in.
    assert agent.client.get("/agent/").status_code == 200
    # A post without the token (another site's form) signs nobody out.
    agent.client.post("/logout")
    assert agent.client.get("/agent/").status_code == 200
    # The page's own button does.
    agent.get("/logout")
    agent.submit("/logout")
    assert "Vous êtes déconnecté." in agent.text
    assert agent.client.get("/agent/").status_code == 302


def test_signed_out_the_sign_out_address_leads_to_the_sign_in_form(agent, office):
    response = agent.get("/logout")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_every_sign_out_is_a_post_with_the_forms_token():
    """Agent and admin pages: no sign-out link a prefetch or a stray GET could follow."""
    import re

    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<a\b[^>]*url_for\('auth\.logout'\)", text), path
        for form in re.findall(r"<form\b[^>]*auth\.logout.*?</form>", text, flags=re.S):
            assert 'method="post"' in form, path
            assert "csrf_token()" in form, path
