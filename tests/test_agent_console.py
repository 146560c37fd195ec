"""The agent console (/agent) as an agent meets it, through the Flask test client.

CSRF protection stays on: every post carries the token read from the page's own
form, the way a browser sends it. Pages are read as text and forms are found by
their action, so a broken template fails here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest
from flask.testing import FlaskClient

from .conftest import PASSWORD, Office

FETCH = {"X-Requested-With": "fetch"}


# --- reading pages --------------------------------------------------------------------


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str, str]] = field(default_factory=list)  # (name, value, text)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._button: list[Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(action=attr.get("action", "")))
        elif tag == "input" and self.forms and attr.get("type") == "hidden":
            self.forms[-1].fields[attr.get("name", "")] = attr.get("value", "")
        elif tag == "button" and self.forms and attr.get("type", "submit") == "submit":
            self._button = [attr.get("name", ""), attr.get("value", ""), ""]

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button[2] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None and self.forms:
            name, value, text = self._button
            self.forms[-1].buttons.append((name, value, " ".join(text.split())))
            self._button = None


def forms_of(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def text_of(html: str) -> str:
    """What the page says: tags, scripts and styles out, whitespace folded."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def by_id(html: str, element_id: str) -> str | None:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, flags=re.S)
    return text_of(match.group(1)) if match else None


def count_for(html: str, code: str) -> int:
    match = re.search(rf'data-count-for="{code}"[^>]*>\s*(\d+)\s*<', html)
    assert match, f"no waiting count for {code}"
    return int(match.group(1))


# --- an agent at a browser, without the JavaScript --------------------------------------


class Agent:
    def __init__(self, client: FlaskClient, office: Office) -> None:
        self.client = client
        self.office = office
        self.html = ""
        self.status = 0

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.client.get(path, **kwargs)
        self.html, self.status = response.get_data(as_text=True), response.status_code
        return response

    def sign_in(self, who: str = "agent", password: str = PASSWORD) -> Any:
        self.get("/login")
        form = self.form("")
        data = {**form.fields, "email": self.office.users[who].email, "password": password}
        response = self.client.post("/login", data=data)
        self.html, self.status = response.get_data(as_text=True), response.status_code
        return response

    def form(self, action_end: str) -> Form:
        found = [f for f in forms_of(self.html) if f.action.endswith(action_end)]
        assert found, f"no form posting to …{action_end} on the page:\n{text_of(self.html)}"
        return found[0]

    def has_form(self, action_end: str) -> bool:
        return any(f.action.endswith(action_end) for f in forms_of(self.html))

    def submit(
        self, action_end: str, fetch: bool = False, follow: bool = True, **extra: str
    ) -> Any:
        """Press the form's button (its name/value from ``extra``), like a browser would."""
        form = self.form(action_end)
        response = self.client.post(
            form.action,
            data={**form.fields, **extra},
            headers=FETCH if fetch else {},
            follow_redirects=follow and not fetch,
        )
        self.html, self.status = response.get_data(as_text=True), response.status_code
        return response

    def open_counter(self, name: str) -> Any:
        counter = next(c for c in self.office.counters.values() if c.name == name)
        self.get("/agent/?choose=1")
        return self.submit(f"/agent/counters/{counter.id}/open")

    @property
    def text(self) -> str:
        return text_of(self.html)

    @property
    def ticket_label(self) -> str | None:
        return by_id(self.html, "ticket-label")


@pytest.fixture
def agent(client: FlaskClient, office: Office) -> Agent:
    return Agent(client, office)


@pytest.fixture
def agent2(app: Any, office: Office) -> Agent:
    return Agent(app.test_client(), office)


def counter_id(office: Office, key: str) -> int:
    return office.counters[key].id


# --- signing in ---------------------------------------------------------------------


def test_console_sends_a_signed_out_visitor_to_the_login_page(agent, office):
    response = agent.get("/agent/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")

    response = agent.get(f"/agent/counters/{counter_id(office, 'g2')}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")

    agent.get("/agent/", follow_redirects=True)
    assert agent.status == 200
    assert "Se connecter" in agent.text
    assert agent.has_form("")


def test_sign_in_needs_the_forms_csrf_token(agent, office):
    agent.get("/login")
    token = agent.form("").fields.get("csrf_token")
    assert token, "the login form carries a CSRF token"

    without = agent.client.post(
        "/login", data={"email": office.users["agent"].email, "password": PASSWORD}
    )
    assert without.status_code == 400
    assert "Le formulaire a expiré. Connectez-vous à nouveau." in text_of(without.get_data(True))
    assert agent.get("/agent/").status_code == 302, "no session without the token"

    response = agent.sign_in("agent")
    assert response.status_code == 302
    assert response.headers["Location"] == "/agent/"
    agent.get("/agent/")
    assert agent.status == 200
    assert "Choisissez votre guichet" in agent.text


def test_a_console_form_with_a_stale_token_does_nothing_and_says_so(agent, api, office):
    api.issue("CNI")
    agent.sign_in()
    agent.open_counter("Guichet 2")
    form = agent.form("/next")
    response = agent.client.post(
        form.action, data={**form.fields, "csrf_token": "stale"}, follow_redirects=True
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "La page avait expiré : rien n'a été fait. Réessayez." in text_of(page)
    assert by_id(page, "ticket-label") is None
    assert count_for(page, "CNI") == 1


def test_wrong_password_is_refused_in_french(agent, office):
    response = agent.sign_in("agent", password="not the password")
    assert response.status_code == 401
    assert "Adresse e-mail ou mot de passe incorrect." in agent.text
    # The e-mail stays typed in; the password does not come back.
    assert office.users["agent"].email in agent.html
    assert "not the password" not in agent.html
    assert agent.get("/agent/").status_code == 302


def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(agent, office):
    g2 = counter_id(office, "g2")
    agent.get("/login")
    fields = {**agent.form("").fields, "email": office.users["agent"].email, "password": PASSWORD}
    response = agent.client.post(f"/login?next=/agent/?site={office.slug}", data=fields)
    assert response.headers["Location"] == f"/agent/?site={office.slug}"

    other = Agent(agent.client.application.test_client(), office)
    other.get("/login")
    fields = {**other.form("").fields, "email": office.users["agent2"].email, "password": PASSWORD}
    response = other.client.post("/login?next=//evil.example/x", data=fields)
    assert response.headers["Location"] == "/agent/"

    # Asked for a console while signed out: back to it after signing in.
    third = Agent(agent.client.application.test_client(), office)
    login = third.get(f"/agent/counters/{g2}").headers["Location"]
    third.get(login)
    fields = {**third.form("").fields, "email": office.users["agent2"].email, "password": PASSWORD}
    response = third.client.post(login, data=fields)
    assert response.headers["Location"] == f"/agent/counters/{g2}"


def test_sign_out_ends_the_session(agent, office):
    agent.sign_in()
    agent.get("/agent/")
    agent.submit("/logout")
    assert "Vous êtes déconnecté." in agent.text
    assert agent.get("/agent/").status_code == 302


# --- choosing a counter -------------------------------------------------------------------


def test_counter_chooser_lists_the_sites_counters(agent, office):
    agent.sign_in()
    agent.get("/agent/")
    text = agent.text
    assert office.site.name in text
    for name in ("Guichet 1", "Guichet 2", "Guichet 3"):
        assert name in text
    opens = [f for f in forms_of(agent.html) if f.action.endswith("/open")]
    assert len(opens) == 3
    assert all(b[2] == "Ouvrir ce guichet" for f in opens for b in f.buttons)
    assert "Carte nationale d'identité" in text
    assert "Casier judiciaire" in text


def test_opening_a_counter_leads_to_its_console(agent, office):
    agent.sign_in()
    agent.open_counter("Guichet 2")
    assert agent.status == 200
    text = agent.text
    assert "Guichet 2" in text
    assert "Ouvert" in text
    assert "Appeler le suivant" in text
    assert "En attente" in text
    # Coming back to /agent leads straight to the counter held.
    response = agent.get("/agent/")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/agent/counters/{counter_id(office, 'g2')}"


def test_a_counter_held_by_someone_else_cannot_be_taken(agent, agent2, office):
    agent.sign_in()
    agent.open_counter("Guichet 1")

    agent2.sign_in("agent2")
    agent2.get("/agent/")
    assert "Occupé par Agent" in agent2.text
    assert not agent2.has_form(f"/agent/counters/{counter_id(office, 'g1')}/open")

    # A stale chooser page still posting to it gets a plain refusal.
    form_fields = agent2.form(f"/agent/counters/{counter_id(office, 'g2')}/open").fields
    response = agent2.client.post(
        f"/agent/counters/{counter_id(office, 'g1')}/open",
        data=form_fields,
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Un autre agent travaille à ce guichet." in text_of(response.get_data(as_text=True))


# --- calling and serving -----------------------------------------------------------------------


def test_call_next_calls_the_oldest_ticket_and_shows_it(agent, api, office):
    api.issue("CNI")
    api.issue("CASIER")
    api.issue("CNI")
    agent.sign_in()
    agent.open_counter("Guichet 2")
    assert count_for(agent.html, "CNI") == 2
    assert "Aucun ticket en cours" in agent.text

    agent.submit("/next")
    assert agent.ticket_label == "B-001"
    assert by_id(agent.html, "ticket-status") == "Appelé"
    assert "Carte nationale d'identité" in agent.text
    assert count_for(agent.html, "CNI") == 1
    assert count_for(agent.html, "CASIER") == 1
    # The rest of the queue, in order, without the ticket at the counter.
    upcoming = re.findall(r'<span class="label">([^<]+)</span>', agent.html)
    assert upcoming == ["B-002"]
    # With a ticket at the counter, the big button says it finishes it first.
    assert "Terminer et appeler le suivant" in agent.text


def test_call_next_with_nobody_waiting_says_so(agent, office):
    agent.sign_in()
    agent.open_counter("Guichet 2")
    agent.submit("/next")
    assert agent.status == 200
    assert agent.ticket_label is None
    assert "Personne n'attend pour les services de ce guichet." in agent.text


def test_recall_start_finish_by_plain_form_posts(agent, api, office):
    api.issue("CNI")
    agent.sign_in()
    agent.open_counter("Guichet 2")
    agent.submit("/next")
    assert agent.ticket_label == "B-001"

    agent.submit("/recall")
    assert agent.status == 200
    assert agent.ticket_label == "B-001"
    assert by_id(agent.html, "recall-count") == "1"
    agent.submit("/recall")
    assert by_id(agent.html, "recall-count") == "2"

    agent.submit("/start")
    assert by_id(agent.html, "ticket-status") == "En cours de service"
    assert not agent.has_form("/recall"), "a citizen at the counter is not recalled"
    assert not agent.has_form("/no-show")

    agent.submit("/finish")
    assert agent.ticket_label is None
    assert by_id(agent.html, "served-today") == "1"
    assert "Aucun ticket en cours" in agent.text
    assert api.get(f"tickets/{_ticket_id(api, 'B-001')}", "manager").get_json()["status"] == "done"


def test_no_show_by_plain_form_post(agent, api, office):
    api.issue("CNI")
    agent.sign_in()
    agent.open_counter("Guichet 2")
    agent.submit("/next")
    agent.submit("/no-show")
    assert agent.ticket_label is None
    assert re.search(r"<strong>1</strong><span>absents</span>", agent.html)
    status = api.get(f"tickets/{_ticket_id(api, 'B-001')}", "manager").get_json()["status"]
    assert status == "no_show"


def test_transfer_sends_the_citizen_to_another_service_with_the_same_number(
    agent, agent2, api, office
):
    api.issue("CNI")
    agent.sign_in()
    agent.open_counter("Guichet 2")
    agent.submit("/next")
    transfer = agent.form("/transfer")
    choices = {value: text for name, value, text in transfer.buttons if name == "service"}
    assert set(choices) == {"CASIER"}, "only other services are offered"
    assert "Casier judiciaire" in choices["CASIER"]
    assert "0 en attente" in choices["CASIER"]

    agent.submit("/transfer", service="CASIER")
    assert agent.status == 200
    assert agent.ticket_label is None
    assert count_for(agent.html, "CASIER") == 1
    assert count_for(agent.html, "CNI") == 0
    assert re.search(r"<strong>1</strong><span>transférés</span>", agent.html)

    # The CASIER counter calls the same citizen, with the same number.
    agent2.sign_in("agent2")
    agent2.open_counter("Guichet 3")
    agent2.submit("/next")
    assert agent2.ticket_label == "B-001"
    assert "Casier judiciaire" in agent2.text
    assert "Transféré" in agent2.text


def test_pause_resume_and_close_by_plain_form_posts(agent, api, office):
    api.issue("CNI")
    agent.sign_in()
    agent.open_counter("Guichet 2")
    reasons = [value for name, value, _ in agent.form("/pause").buttons if name == "reason"]
    assert "lunch" in reasons

    agent.submit("/pause", reason="lunch")
    assert agent.status == 200
    text = agent.text
    assert "En pause" in text
    assert "Déjeuner" in text
    assert "Reprendre" in text
    assert not agent.has_form("/next"), "no call button while paused"

    # A stale tab calling anyway is told why nothing happens.
    fields = agent.form("/resume").fields
    response = agent.client.post(
        f"/agent/counters/{counter_id(office, 'g2')}/next", data=fields, follow_redirects=True
    )
    page = text_of(response.get_data(as_text=True))
    assert "Ouvrez d'abord le guichet." in page
    assert count_for(response.get_data(as_text=True), "CNI") == 1

    agent.submit("/resume")
    assert "Ouvert" in agent.text
    assert agent.has_form("/next")
    assert "Reprendre" not in agent.text

    agent.submit("/close")
    assert agent.status == 200
    assert "Guichet fermé. Bon travail !" in agent.text
    assert "Choisissez votre guichet" in agent.text
    assert agent.has_form(f"/agent/counters/{counter_id(office, 'g2')}/open")


def test_close_is_refused_while_a_ticket_is_at_the_counter(agent, api, office):
    api.issue("CNI")
    agent.sign_in()
    agent.open_counter("Guichet 2")
    agent.submit("/next")
    agent.submit("/close")
    assert "Terminez ou transférez d'abord le ticket en cours." in agent.text
    assert agent.ticket_label == "B-001"


# --- the same actions from the script (X-Requested-With: fetch) ------------------------------


def test_actions_with_the_fetch_header_answer_the_panel(agent, api, office):
    api.issue("CNI")
    api.issue("CNI")
    agent.sign_in()
    agent.open_counter("Guichet 2")

    def fragment() -> None:
        assert "data-console-panel" in agent.html
        assert "<html" not in agent.html
        assert '<header class="topbar"' not in agent.html

    response = agent.submit("/next", fetch=True)
    assert response.status_code == 200
    fragment()
    assert agent.ticket_label == "B-001"

    agent.submit("/recall", fetch=True)
    assert agent.status == 200
    fragment()
    assert by_id(agent.html, "recall-count") == "1"

    agent.submit("/start", fetch=True)
    assert by_id(agent.html, "ticket-status") == "En cours de service"

    agent.submit("/finish", fetch=True)
    fragment()
    assert agent.ticket_label is None
    assert by_id(agent.html, "served-today") == "1"

    agent.submit("/next", fetch=True)
    assert agent.ticket_label == "B-002"
    agent.submit("/no-show", fetch=True)
    assert agent.ticket_label is None
    assert re.search(r"<strong>1</strong><span>absents</span>", agent.html)

    agent.submit("/pause", fetch=True, reason="meeting")
    assert agent.status == 200
    fragment()
    assert "Réunion" in agent.text
    agent.submit("/resume", fetch=True)
    assert "Ouvert" in agent.text

    agent.submit("/next", fetch=True)
    assert "Personne n'attend pour les services de ce guichet." in agent.text

    api.issue("CNI")
    agent.submit("/next", fetch=True)
    assert agent.ticket_label == "B-003"
    agent.submit("/transfer", fetch=True, service="CASIER")
    fragment()
    assert agent.ticket_label is None
    assert count_for(agent.html, "CASIER") == 1


def test_a_refused_fetch_action_answers_the_panel_with_the_error(agent, api, office):
    api.issue("CNI")
    agent.sign_in()
    agent.open_counter("Guichet 2")
    agent.submit("/next")
    stale_finish = agent.form("/finish")
    agent.submit("/finish")

    # The same button pressed again from a panel that had not refreshed yet.
    response = agent.client.post(stale_finish.action, data=stale_finish.fields, headers=FETCH)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "data-console-panel" in html
    assert "Ce changement n'est pas permis dans l'état actuel du ticket." in text_of(html)
    assert 'role="alert"' in html


def test_the_panel_url_serves_the_fragment_for_live_refresh(agent, api, office):
    agent.sign_in()
    agent.open_counter("Guichet 2")
    api.issue("CNI")
    response = agent.get(f"/agent/counters/{counter_id(office, 'g2')}/panel")
    assert response.status_code == 200
    assert "data-console-panel" in agent.html
    assert count_for(agent.html, "CNI") == 1


# --- someone else's counter ------------------------------------------------------------------


def test_an_agent_cannot_act_on_another_agents_counter(agent, agent2, api, office):
    api.issue("CNI")
    agent.sign_in()
    agent.open_counter("Guichet 1")
    agent.submit("/next")
    assert agent.ticket_label == "B-001"
    finish = agent.form("/finish")
    g1, g3 = counter_id(office, "g1"), counter_id(office, "g3")

    agent2.sign_in("agent2")
    agent2.open_counter("Guichet 3")
    token = agent2.form("/next").fields

    for path in (
        f"/agent/counters/{g1}/next",
        f"/agent/counters/{g1}/pause",
        f"/agent/counters/{g1}/close",
        finish.action,
        # Through agent2's own counter: the ticket still belongs to agent's counter.
        finish.action.replace(f"/counters/{g1}/", f"/counters/{g3}/"),
    ):
        for headers in ({}, FETCH):
            response = agent2.client.post(path, data=token, headers=headers)
            assert response.status_code == 403, (path, headers, response.status_code)
            if not headers:
                assert "Vous n'êtes pas autorisé" in text_of(response.get_data(as_text=True))

    assert agent2.client.get(f"/agent/counters/{g1}/panel").status_code == 403
    console = agent2.client.get(f"/agent/counters/{g1}", follow_redirects=True)
    assert "Prenez ce guichet pour y travailler." in text_of(console.get_data(as_text=True))

    agent.get(f"/agent/counters/{g1}")
    assert agent.ticket_label == "B-001"
    assert by_id(agent.html, "ticket-status") == "Appelé"


# --- languages and personal data --------------------------------------------------------------


def test_french_by_default_and_english_after_choosing_it(agent, api, office):
    api.issue("CNI")
    agent.sign_in()
    agent.open_counter("Guichet 2")
    assert '<html lang="fr">' in agent.html
    assert "Appeler le suivant" in agent.text
    console = f"/agent/counters/{counter_id(office, 'g2')}"

    response = agent.get(f"/lang/en?next={console}")
    assert response.status_code == 302
    assert response.headers["Location"] == console
    agent.get(console)
    assert '<html lang="en">' in agent.html
    text = agent.text
    assert "Call next" in text
    assert "Waiting" in text
    assert "National identity card" in text
    assert "Appeler le suivant" not in text
    agent.submit("/next")
    assert "Called" in agent.text
    assert "Recall" in agent.text

    agent.get(f"/lang/fr?next={console}", follow_redirects=True)
    assert "Rappeler" in agent.text


def test_the_console_never_shows_a_citizens_phone_number(agent, api, office):
    api.issue("CNI", phone="77 123 45 67")
    agent.sign_in()
    agent.open_counter("Guichet 2")
    pages = [agent.html]
    agent.submit("/next")
    pages.append(agent.html)
    agent.submit("/start", fetch=True)
    pages.append(agent.html)
    assert agent.ticket_label == "B-001"
    for html in pages:
        # However it would be written: +221 77 123 45 67, 771234567, 77-123-45-67…
        assert not re.search(r"77\W{0,2}123\W{0,2}45\W{0,2}67", html)
        assert "+221" not in html


def _ticket_id(api: Any, label: str) -> int:
    """The id of today's ticket with this label, as a manager sees it through the API."""
    from queue_app.extensions import db
    from queue_app.models import Ticket

    with api.app.app_context():
        ticket = db.session.query(Ticket).filter_by(label=label).one()
        return ticket.id
