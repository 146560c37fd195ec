"""The agent console in a real Chromium (Playwright), against the live server.

An agent signs in, takes Guichet 2 and works the CNI queue from the keyboard
while a kiosk issues tickets through the API. Waits are Playwright's own
auto-waiting assertions, never sleeps. Screenshots land in artifacts/screenshots/
for people to look at.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from .conftest import (
    AGENT_JS,
    LAPTOP,
    PASSWORD,
    SCREENS,
    Api,
    Office,
    assert_fits,
    build_office,
    reconnect_bound_ms,
    shot,
)
from .fake_printer import FakePrinter
from .test_console_pages import book_for_soon, give_the_kiosk_a_printer

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


# Once the page's WebSocket reached the server: the handshake and the state it loads again.
CONNECTED_MS = 30_000


def sign_in(page: Any, url: str, email: str) -> None:
    page.goto(f"{url}/agent/")
    expect(page.get_by_role("heading", name="Se connecter")).to_be_visible()
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def test_agent_works_the_queue_from_the_keyboard(page, live_server, office: Office):
    api = Api(live_server.app, office)
    url = live_server.url

    # Signing in: a wrong password first, then the right one.
    api.issue("CASIER")
    page.goto(f"{url}/agent/")
    expect(page).to_have_url(f"{url}/login?next=%2Fagent%2F")
    page.get_by_label("Adresse e-mail").fill(office.users["agent"].email)
    page.get_by_label("Mot de passe").fill("wrong password")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("alert")).to_have_text("Adresse e-mail ou mot de passe incorrect.")
    shot(page, "login")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()

    # Choosing Guichet 2 (CNI).
    expect(page.get_by_role("heading", name="Choisissez votre guichet")).to_be_visible()
    expect(page.locator(".counter-card")).to_have_count(3)
    expect(page.locator(".counter-card").first).to_contain_text("1 en attente")
    shot(page, "counter-chooser")
    card = page.locator(".counter-card", has=page.get_by_role("heading", name="Guichet 2"))
    card.get_by_role("button", name="Ouvrir ce guichet").click()

    expect(page.get_by_role("heading", name="Guichet 2")).to_be_visible()
    live = page.locator("#live")
    expect(live).to_have_attribute("data-state", "on")
    expect(live).to_have_text("En direct")
    cni_count = page.locator('[data-count-for="CNI"]')
    expect(cni_count).to_have_text("0")
    call = page.locator('[data-shortcut="space"]')
    call_text = call.locator(".button-text")
    expect(call_text).to_have_text("Appeler le suivant")

    # A kiosk issues a ticket: the count changes without a reload.
    page.evaluate("window.notReloaded = true")
    assert api.issue("CNI")["label"] == "B-001"
    expect(cni_count).to_have_text("1")
    expect(page.locator('[data-count-for="CASIER"]')).to_have_text("1")
    expect(page.locator("#waiting-here")).to_have_text("1")
    assert page.evaluate("window.notReloaded") is True
    shot(page, "console-idle")

    # Space calls it, big.
    page.keyboard.press("Space")
    label = page.locator("#ticket-label")
    expect(label).to_have_text("B-001")
    expect(page.locator("#ticket-status")).to_have_text("Appelé")
    expect(cni_count).to_have_text("0")
    assert float(label.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 64
    expect(call).to_be_focused()
    shot(page, "ticket-called")
    # The cheap office screen: everything needed is on screen without scrolling.
    shot(page, "console-1366x768", full_page=False)
    for needed in (label, call, page.locator('[data-shortcut="f"]'), page.locator("#live")):
        expect(needed).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollHeight <= innerHeight + 1")
    # The same screen inside a browser window, under tabs and a taskbar.
    page.set_viewport_size({"width": 1366, "height": 640})
    for needed in (label, call, page.locator('[data-shortcut="f"]')):
        expect(needed).to_be_in_viewport()
    shot(page, "console-1366x640-browser-window", full_page=False)
    page.set_viewport_size({"width": 1920, "height": 1080})
    shot(page, "console-1920x1080", full_page=False)
    page.set_viewport_size(LAPTOP)

    # R recalls, S starts, F finishes.
    page.keyboard.press("r")
    expect(page.locator("#recall-count")).to_have_text("1")
    page.keyboard.press("s")
    expect(page.locator("#ticket-status")).to_have_text("En cours de service")
    expect(page.locator('[data-shortcut="r"]')).to_have_count(0)
    page.keyboard.press("f")
    expect(label).to_have_count(0)
    expect(page.locator("#served-today")).to_have_text("1")

    # A marks a no-show.
    api.issue("CNI")
    expect(cni_count).to_have_text("1")
    page.keyboard.press("Space")
    expect(label).to_have_text("B-002")
    page.keyboard.press("a")
    expect(label).to_have_count(0)
    expect(page.locator(".stats div", has_text="absents").locator("strong")).to_have_text("1")

    # T opens the transfer dialog; the citizen goes to the CASIER queue.
    api.issue("CNI")
    expect(cni_count).to_have_text("1")
    page.keyboard.press("Space")
    expect(label).to_have_text("B-003")
    page.keyboard.press("t")
    dialog = page.get_by_role("dialog", name="Transférer B-003 vers")
    expect(dialog).to_be_visible()
    choice = dialog.get_by_role("button", name="Casier judiciaire")
    expect(choice).to_be_focused()
    expect(dialog.get_by_role("button", name="Carte nationale d'identité")).to_have_count(0)
    shot(page, "transfer-dialog")
    choice.click()
    expect(dialog).to_have_count(0)
    expect(label).to_have_count(0)
    expect(page.locator('[data-count-for="CASIER"]')).to_have_text("2")
    expect(page.locator(".stats div", has_text="transférés").locator("strong")).to_have_text("1")

    # P pauses with a reason; the resume button opens the counter again.
    page.keyboard.press("p")
    pause = page.get_by_role("dialog", name="Mettre le guichet en pause")
    expect(pause).to_be_visible()
    pause.get_by_role("button", name="Déjeuner").click()
    state = page.locator("#counter-state")
    expect(state).to_have_text("En pause")
    expect(page.locator("#pause-note")).to_contain_text("Déjeuner")
    expect(call_text).to_have_text("Reprendre")
    shot(page, "paused")
    api.issue("CNI")
    expect(cni_count).to_have_text("1")
    page.keyboard.press("r")  # no ticket here: nothing happens, nothing breaks
    page.get_by_role("button", name="Reprendre").click()
    expect(state).to_have_text("Ouvert")
    expect(call_text).to_have_text("Appeler le suivant")

    # English on request.
    page.get_by_role("link", name="EN").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(call_text).to_have_text("Call next")
    expect(page.get_by_role("heading", name="Waiting")).to_be_visible()
    expect(live).to_have_text("Live")
    expect(page.locator(".counts")).to_contain_text("National identity card")
    page.keyboard.press("Space")
    expect(label).to_have_text("B-004")
    expect(page.get_by_role("button", name="Recall")).to_be_visible()
    expect(page.locator("#ticket-status")).to_have_text("Called")
    shot(page, "console-english")


def test_a_lost_connection_is_shown_and_recovered(page, live_server, office: Office):
    """The indicator says when counts may be stale; a failed action says so; all comes back."""
    api = Api(live_server.app, office)
    url = live_server.url
    # The page's Socket.IO WebSocket goes through this switch (the server is the real one).
    links: list[Any] = []
    network = {"up": True}

    def websocket(ws: Any) -> None:
        if not network["up"]:
            ws.close()
            return
        ws.connect_to_server()
        links.append(ws)

    page.route_web_socket(re.compile(r"/socket\.io/"), websocket)
    sign_in(page, url, office.users["agent2"].email)
    card = page.locator(".counter-card", has=page.get_by_role("heading", name="Guichet 3"))
    card.get_by_role("button", name="Ouvrir ce guichet").click()
    live = page.locator("#live")
    expect(live).to_have_attribute("data-state", "on")
    page.evaluate("window.notReloaded = true")

    # The network goes down: no WebSocket, no HTTP.
    network["up"] = False
    page.route("**/*", lambda route: route.abort("internetdisconnected"))
    for ws in links:
        ws.close()
    expect(live).to_have_attribute("data-state", "off")
    expect(live).to_have_text("Reconnexion…")
    page.keyboard.press("Space")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Pas de réponse du serveur")
    expect(page.locator('[data-shortcut="space"]')).to_be_enabled()
    shot(page, "connection-lost")
    api.issue("CASIER")  # a citizen arrives meanwhile

    # The network is back: the console tries again by itself, within its backoff (after its
    # connection timeout when an attempt made during the outage was dropped, not failed)...
    tried = len(links)
    page.unroute("**/*")
    network["up"] = True
    deadline = time.monotonic() + reconnect_bound_ms(AGENT_JS) / 1000
    while len(links) == tried:  # links grows when the page opens its WebSocket again
        assert time.monotonic() < deadline, "the console did not try to reconnect"
        page.wait_for_timeout(50)  # lets Playwright hand over the page's WebSocket
    # ...and once it reached the server, it says so and catches up (however busy the
    # machine: these wait on the page, the connection is made).
    expect(live).to_have_attribute("data-state", "on", timeout=CONNECTED_MS)
    expect(page.locator('[data-count-for="CASIER"]')).to_have_text("1", timeout=CONNECTED_MS)
    expect(page.locator("#waiting-here")).to_have_text("1", timeout=CONNECTED_MS)
    assert page.evaluate("window.notReloaded") is True


def console_controls(page: Any) -> list[Any]:
    """What an agent reaches for at the console, wherever the ticket is."""
    return [
        page.locator('[data-shortcut="space"]'),
        page.get_by_role("button", name="Fermer le guichet"),
        page.get_by_label("Code du rendez-vous"),
        page.get_by_role("button", name="Enregistrer"),
        page.get_by_role("button", name="Réimprimer", exact=True),
        page.get_by_role("button", name="Se déconnecter"),
    ]


def test_an_agent_works_the_counter_with_the_mouse(request, page, live_server, office: Office):
    """Every action by clicking and typing, the way an agent without shortcuts works: call,
    recall, transfer, check in an appointment by its code, reprint a jammed ticket by its
    code, pause, resume, sign out. At 1366×768 and 1920×1080 nothing scrolls sideways."""
    api = Api(live_server.app, office)
    url = live_server.url
    book_for_soon(live_server.app, office, "K7P4XM")
    printer = FakePrinter().start()
    request.addfinalizer(printer.stop)
    give_the_kiosk_a_printer(live_server.app, office, printer.url)

    sign_in(page, url, office.users["agent"].email)
    expect(page.get_by_role("heading", name="Choisissez votre guichet")).to_be_visible()
    opens = page.get_by_role("button", name="Ouvrir ce guichet")
    for screen in SCREENS:
        page.set_viewport_size(screen)
        assert_fits(page, opens.first, opens.last)
    page.set_viewport_size(LAPTOP)
    card = page.locator(".counter-card", has=page.get_by_role("heading", name="Guichet 1"))
    card.get_by_role("button", name="Ouvrir ce guichet").click()
    expect(page.get_by_role("heading", name="Guichet 1")).to_be_visible()
    expect(page.locator("#live")).to_have_attribute("data-state", "on")

    label = page.locator("#ticket-label")
    status = page.locator("[data-alerts]")  # what the last action said
    first = api.issue("CNI")
    expect(page.locator('[data-count-for="CNI"]')).to_have_text("1")

    # Call by the big button.
    page.get_by_role("button", name="Appeler le suivant").click()
    expect(label).to_have_text(first["label"])
    for screen in SCREENS:
        page.set_viewport_size(screen)
        recall = page.get_by_role("button", name="Rappeler")
        assert_fits(page, label, recall, *console_controls(page))
        shot(page, f"console-mouse-called-{screen['width']}x{screen['height']}", full_page=False)
    page.set_viewport_size(LAPTOP)

    # Recall.
    page.get_by_role("button", name="Rappeler").click()
    expect(page.locator("#recall-count")).to_have_text("1")

    # Transfer to the criminal record queue.
    page.get_by_role("button", name="Transférer").click()
    dialog = page.get_by_role("dialog", name=f"Transférer {first['label']} vers")
    dialog.get_by_role("button", name="Casier judiciaire").click()
    expect(dialog).to_have_count(0)
    expect(label).to_have_count(0)
    expect(page.locator('[data-count-for="CASIER"]')).to_have_text("1")

    # A citizen with an appointment: the agent types the code as it was read out.
    page.get_by_label("Code du rendez-vous").fill("k7p4 xm")
    page.get_by_role("button", name="Enregistrer").click()
    expect(status).to_have_text("Enregistré : ticket B-002.")
    expect(page.locator('[data-count-for="CNI"]')).to_have_text("1")

    # The kiosk jammed on a ticket: reprinted by its tracking code, typed loosely.
    jammed = api.issue("CASIER")
    code = jammed["code"]
    assert printer.wait_for(2)  # the first ticket, then this one (jammed in the kiosk)
    page.get_by_label("Numéro du ticket ou code de suivi, p. ex. B-007").fill(
        f"{code[:4].lower()} {code[4:]}"
    )
    page.get_by_role("button", name="Réimprimer", exact=True).click()
    expect(status).to_have_text(
        f"Réimpression envoyée à l'imprimante de la borne : {jammed['label']}."
    )
    assert printer.wait_for(3)
    assert jammed["label"].encode() in printer.prints[2]
    assert b"DUPLICATA" in printer.prints[2]
    # And by its number.
    page.get_by_label("Numéro du ticket ou code de suivi, p. ex. B-007").fill("b2")
    page.get_by_role("button", name="Réimprimer", exact=True).click()
    expect(status).to_have_text("Réimpression envoyée à l'imprimante de la borne : B-002.")
    assert printer.wait_for(4)
    assert b"B-002" in printer.prints[3]
    for screen in SCREENS:
        page.set_viewport_size(screen)
        assert_fits(page, *console_controls(page))
        shot(page, f"console-{screen['width']}x{screen['height']}", full_page=False)
    page.set_viewport_size(LAPTOP)

    # Pause for lunch, then resume.
    page.get_by_role("button", name="Pause").click()
    page.get_by_role("dialog", name="Mettre le guichet en pause").get_by_role(
        "button", name="Déjeuner"
    ).click()
    expect(page.locator("#counter-state")).to_have_text("En pause")
    assert_fits(page, page.get_by_role("button", name="Reprendre"))
    page.get_by_role("button", name="Reprendre").click()
    expect(page.locator("#counter-state")).to_have_text("Ouvert")

    # Next: the transferred citizen, who kept their arrival time (the appointment's slot
    # has not come yet, so its ticket waits its turn).
    page.get_by_role("button", name="Appeler le suivant").click()
    expect(label).to_have_text(first["label"])

    # Sign out by the button in the top bar.
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("heading", name="Se connecter")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Vous êtes déconnecté.")
    page.goto(f"{url}/agent/")
    expect(page.get_by_role("heading", name="Se connecter")).to_be_visible()


def test_an_admin_lands_on_the_administration(page, live_server, office: Office):
    """Signing in by typing at the application's address; no admin page scrolls sideways."""
    url = live_server.url
    page.goto(f"{url}/")
    page.get_by_label("Adresse e-mail").fill(office.users["admin"].email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(f"{url}/admin/")
    nav = page.get_by_role("navigation", name="Administration")
    sections = [
        "Tableau de bord",
        "Réclamations",
        "Structures",
        "Utilisateurs",
        "Journal des modifications",
    ]
    for section in sections:
        nav.get_by_role("link", name=section).click()
        expect(nav.get_by_role("link", name=section)).to_have_attribute("aria-current", "page")
        for screen in SCREENS:
            page.set_viewport_size(screen)
            assert_fits(page, nav.get_by_role("link", name=section), scroll=True)
    shot(page, "admin-after-sign-in-1920x1080", full_page=False)
    # Every page of an office's settings and their forms: none scrolls sideways.
    slug = office.slug
    pages = [
        f"/admin/sites/{slug}{tail}"
        for tail in (
            "",
            "/appointments",
            "/commitments",
            "/counters",
            f"/counters/{office.counters['g1'].id}",
            "/counters/new",
            "/devices",
            "/hours",
            "/services",
            "/services/CNI",
            "/services/new",
            "/sms",
            "/voices",
        )
    ] + ["/admin/sites/new", "/admin/users/new", f"/admin/users/{office.users['agent'].id}"]
    for path in pages:
        page.goto(f"{url}{path}")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        for screen in SCREENS:
            page.set_viewport_size(screen)
            assert_fits(page)
    # Signing out: a typed address only asks; the button signs out.
    page.goto(f"{url}/logout")
    expect(page.get_by_role("heading", name="Se déconnecter")).to_be_visible()
    page.set_viewport_size(LAPTOP)
    shot(page, "sign-out-confirmation", full_page=False)
    page.goto(f"{url}/admin/")
    expect(page).to_have_url(f"{url}/admin/")
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("heading", name="Se connecter")).to_be_visible()


def test_an_agent_of_two_offices_switches_office(page, live_server, office: Office):
    """The office picker works under the Content-Security-Policy (no inline script)."""
    from queue_app.extensions import db
    from queue_app.models import Site, User

    app = live_server.app
    dakar = build_office(app, slug="dakar")
    with app.app_context():
        user = db.session.get(User, office.users["agent"].id)
        user.sites.append(db.session.get(Site, dakar.site.id))
        db.session.commit()
    sign_in(page, live_server.url, office.users["agent"].email)
    expect(page.get_by_role("heading", name="Choisissez votre guichet")).to_be_visible()
    page.get_by_label("Bureau").select_option(label="Espace Sénégal Services thies")
    page.get_by_label("Bureau").select_option(label="Espace Sénégal Services dakar")
    page.get_by_role("button", name="Afficher ce bureau").click()
    expect(page.locator(".topbar .site-name")).to_have_text("Espace Sénégal Services dakar")
    expect(page.get_by_label("Bureau")).to_have_value("dakar")
    for screen in SCREENS:
        page.set_viewport_size(screen)
        assert_fits(page, page.get_by_role("button", name="Afficher ce bureau"))
    shot(page, "counter-chooser-two-offices", full_page=False)
    card = page.locator(".counter-card", has=page.get_by_role("heading", name="Guichet 3"))
    card.get_by_role("button", name="Ouvrir ce guichet").click()
    expect(page.get_by_role("heading", name="Guichet 3")).to_be_visible()
    expect(page.locator(".topbar .site-name")).to_contain_text("dakar")
