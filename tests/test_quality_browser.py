"""The dashboard, the admin forms, the counter's tablet and the citizens' pages in a real Chromium.

Screenshots land in artifacts/screenshots/ (admin-*, tablet-*, phone-*) for
people to look at. Waits are Playwright's auto-waiting assertions, never sleeps.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from queue_app.extensions import db
from queue_app.models import Feedback, utcnow
from queue_app.quality.commitments import set_commitments
from queue_app.queue.days import service_day
from queue_app.queue.sites import get_site

from .conftest import LAPTOP, PASSWORD, PHONE, Api, Office, shot
from .quality_history import play_history

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TABLET_LANDSCAPE = {"width": 1280, "height": 800}
TABLET_PORTRAIT = {"width": 800, "height": 1280}


def sign_in(page: Any, url: str, email: str, next_path: str) -> None:
    page.goto(f"{url}/login?next={next_path}")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def serve(api: Api, service: str = "CNI", counter: str = "g1") -> dict:
    api.issue(service)
    called = api.call_next(counter)
    assert called.status_code == 200, called.get_json()
    assert api.post(f"tickets/{called.get_json()['id']}/finish", "agent").status_code == 200
    return called.get_json()


def test_the_dashboard_and_the_admin_forms(make_page, live_server, office: Office):
    app, url = live_server.app, live_server.url
    with app.app_context():
        today = service_day(get_site(db.session, "thies"), utcnow())
        set_commitments(
            db.session,
            get_site(db.session, "thies"),
            [{"kind": "wait", "threshold": 20, "target_pct": 80}],
        )
        db.session.commit()
    play_history(app, "thies", today - timedelta(days=6), 7, 18, complaints=3)

    page = make_page(LAPTOP)
    sign_in(page, url, office.users["manager"].email, "/admin/")
    expect(page.get_by_role("heading", name="Tableau de bord")).to_be_visible()
    kpis = page.locator(".kpi")
    expect(kpis).to_have_count(6)
    expect(kpis.nth(0)).to_contain_text("Usagers accueillis")
    expect(kpis.nth(4).locator(".value")).to_have_text("2")  # 3 complaints, 1 answered
    for chart in ("chart-timeline", "chart-ratings"):
        page.wait_for_function(
            "id => window.Chart && Chart.getChart(document.getElementById(id))", arg=chart
        )
    expect(page.locator(".meter span").first).to_have_attribute("data-width", re.compile(r"\d"))
    assert page.evaluate("document.querySelector('.meter span').style.width").endswith("%")
    expect(page.get_by_role("heading", name="Guichets")).to_be_visible()
    shot(page, "admin-dashboard")
    page.get_by_role("link", name="Aujourd'hui").click()
    expect(page.get_by_role("heading", name="Heure par heure")).to_be_visible()
    shot(page, "admin-dashboard-today", full_page=False)

    # A service form: the change is saved, said, and in the change log.
    page.goto(f"{url}/admin/sites/thies/services/CNI")
    target = page.get_by_label("Temps d'attente visé (minutes)")
    target.fill("25")
    page.get_by_label("Pas de tickets prioritaires : tout le monde dans l'ordre d'arrivée").check()
    shot(page, "admin-service-form")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("status")).to_have_text("Modifications enregistrées.")
    expect(page.get_by_role("row", name=re.compile("Carte nationale"))).to_contain_text("25 min")
    shot(page, "admin-services")

    # Opening hours: Monday copied to the working days in one click.
    page.goto(f"{url}/admin/sites/thies/hours")
    page.get_by_label("Ouverte selon ces horaires hebdomadaires").check()
    page.locator("#monday_0_start").fill("08:00")
    page.locator("#monday_0_end").fill("12:30")
    page.locator("#monday_1_start").fill("14:00")
    page.locator("#monday_1_end").fill("17:00")
    page.get_by_role("button", name="Mêmes horaires que le lundi, du mardi au vendredi").click()
    expect(page.locator("#friday_1_end")).to_have_value("17:00")
    page.get_by_role("button", name="Enregistrer les horaires").click()
    expect(page.get_by_role("status")).to_have_text("Horaires enregistrés.")
    shot(page, "admin-hours")

    # A tablet: its pairing code, once.
    page.goto(f"{url}/admin/sites/thies/devices")
    page.get_by_label("Type").select_option("tablet")
    page.get_by_label("Nom", exact=True).fill("Tablette Guichet 2")
    page.get_by_label("Guichet (pour une tablette ou").select_option(label="Guichet 2")
    page.get_by_role("button", name="Ajouter l'appareil").click()
    expect(page.locator("img.qr").first).to_be_visible()
    expect(page.locator("#address-1")).to_contain_text("/feedback/")
    shot(page, "admin-device-token")

    page.goto(f"{url}/admin/complaints")
    expect(page.locator("tbody tr")).to_have_count(2)  # one of the three is answered
    page.locator("a.row-link").first.click()
    expect(page.get_by_role("heading", name=re.compile("Réclamation|Suggestion"))).to_be_visible()
    shot(page, "admin-complaint")
    page.goto(f"{url}/admin/audit")
    expect(page.locator("tbody tr").first).to_contain_text("manager@thies.sn")
    shot(page, "admin-audit", full_page=False)

    phone = make_page(PHONE)
    phone.goto(f"{url}/sites/thies/commitments")
    expect(phone.locator(".commitment")).to_have_count(1)
    expect(phone.locator(".commitment-text")).to_have_text(
        "80 % des usagers reçus en moins de 20 minutes"
    )
    shot(phone, "phone-commitments")


def test_the_counter_tablet_asks_thanks_and_resets(make_page, live_server, office: Office):
    app, url = live_server.app, live_server.url
    api = Api(app, office)
    api.open_counter("g1")
    counter_id = office.counters["g1"].id
    page = make_page(TABLET_LANDSCAPE)
    page.goto(f"{url}/feedback/{counter_id}?token={office.tokens['tablet']}")
    tablet = page.locator("#tablet")
    expect(tablet).to_have_attribute("data-state", "idle")
    expect(page.locator("#link")).to_have_attribute("data-state", "on")
    expect(page).to_have_url(f"{url}/feedback/{counter_id}")  # the token left the address
    expect(page.get_by_text("Bienvenue au Guichet 1")).to_be_visible()
    shot(page, "tablet-idle", full_page=False)

    ticket = serve(api)
    expect(tablet).to_have_attribute("data-state", "ask")
    expect(page.get_by_role("heading", name="Êtes-vous satisfait ?")).to_be_visible()
    expect(page.locator("#ticket-label")).to_have_text(ticket["label"])
    faces = page.locator(".face-button")
    expect(faces).to_have_count(5)
    box = faces.nth(4).bounding_box()
    assert box is not None
    assert box["width"] >= 150  # large enough for any finger
    shot(page, "tablet-ask", full_page=False)
    faces.nth(3).click()
    expect(faces.nth(3)).to_have_attribute("aria-pressed", "true")
    page.get_by_label("Un commentaire ? (facultatif)").fill("Accueil très aimable.")
    shot(page, "tablet-comment", full_page=False)
    page.get_by_role("button", name="Envoyer").click()
    expect(page.get_by_text("Merci !", exact=True)).to_be_visible()
    shot(page, "tablet-thanks", full_page=False)
    expect(tablet).to_have_attribute("data-state", "idle", timeout=15_000)
    with app.app_context():
        feedback = db.session.scalar(select(Feedback))
        assert (feedback.ticket_id, feedback.rating) == (ticket["id"], 4)
        assert feedback.comment == "Accueil très aimable."

    # Reloaded without its token (kept on the tablet), in portrait.
    portrait = make_page(TABLET_PORTRAIT)
    portrait.goto(f"{url}/feedback/{counter_id}?token={office.tokens['tablet']}")
    expect(portrait.locator("#link")).to_have_attribute("data-state", "on")
    portrait.reload()
    expect(portrait.locator("#link")).to_have_attribute("data-state", "on")
    second = serve(api)
    expect(portrait.locator("#ticket-label")).to_have_text(second["label"])
    shot(portrait, "tablet-ask-portrait", full_page=False)


def test_the_citizen_rates_on_the_phone_and_files_a_complaint(make_page, live_server, office):
    app, url = live_server.app, live_server.url
    api = Api(app, office)
    api.open_counter("g1")
    ticket = api.issue("CNI")
    page = make_page(PHONE)
    page.goto(f"{url}/t/{ticket['code']}")
    expect(page.locator("#track")).to_have_attribute("data-status", "waiting")
    expect(page.locator("#rate")).to_be_hidden()
    called = api.call_next("g1").get_json()
    assert called["id"] == ticket["id"]
    api.post(f"tickets/{ticket['id']}/finish", "agent")
    expect(page.locator("#track")).to_have_attribute("data-status", "done")
    rate = page.locator("#rate")
    expect(rate).to_be_visible()
    rate.get_by_role("button", name="Très satisfait").click()
    page.get_by_label("Un commentaire ? (facultatif)").fill("Rapide, merci.")
    shot(page, "phone-track-rating")
    rate.get_by_role("button", name="Envoyer").click()
    expect(page.get_by_text("Merci pour votre avis !")).to_be_visible()
    with app.app_context():
        assert db.session.scalar(select(Feedback.rating)) == 5

    form = make_page(PHONE)
    form.goto(f"{url}/sites/thies/complaints")
    form.get_by_text("Une suggestion").click()
    form.get_by_label("Service concerné").select_option(label="Casier judiciaire")
    form.get_by_label("Votre message").fill(
        "Un banc de plus dans la salle d'attente serait bienvenu."
    )
    form.get_by_label("Votre numéro de téléphone (facultatif)").fill("77 123 45 67")
    shot(form, "phone-complaint-form")
    form.get_by_role("button", name="Envoyer").click()
    expect(form.get_by_role("heading", name="Merci, votre message est enregistré")).to_be_visible()
    reference = form.locator(".reference").inner_text()
    assert re.fullmatch(r"R[A-Z2-9]{7}", reference)
    shot(form, "phone-complaint-done")


def test_a_touch_on_the_tablet_and_a_complaint_typed_on_a_phone(make_page, live_server, office):
    """As people do it: a finger on a face of the tablet, a complaint typed key by key."""
    from queue_app.models import Complaint, ComplaintKind

    app, url = live_server.app, live_server.url
    api = Api(app, office)
    api.open_counter("g1")
    counter_id = office.counters["g1"].id
    tablet = make_page(TABLET_PORTRAIT, has_touch=True)
    tablet.goto(f"{url}/feedback/{counter_id}?token={office.tokens['tablet']}")
    expect(tablet.locator("#link")).to_have_attribute("data-state", "on")
    ticket = serve(api)
    expect(tablet.locator("#tablet")).to_have_attribute("data-state", "ask")
    faces = tablet.locator(".face-button")
    faces.nth(1).tap()
    expect(faces.nth(1)).to_have_attribute("aria-pressed", "true")
    tablet.get_by_role("button", name="Envoyer").tap()
    expect(tablet.get_by_text("Merci !", exact=True)).to_be_visible()
    with app.app_context():
        feedback = db.session.scalar(select(Feedback))
        assert (feedback.ticket_id, feedback.rating) == (ticket["id"], 2)

    phone = make_page(PHONE, has_touch=True, is_mobile=True)
    phone.goto(f"{url}/sites/thies/complaints")
    phone.get_by_text("Une réclamation", exact=True).tap()
    phone.get_by_label("Service concerné").select_option(label="Carte nationale d'identité")
    words = "J'ai attendu deux heures alors que mon numéro était passé, sans être appelé."
    message = phone.get_by_label("Votre message")
    message.tap()
    message.press_sequentially(words)
    number = phone.get_by_label("Votre numéro de téléphone (facultatif)")
    number.tap()
    number.press_sequentially("77 123 45 67")
    shot(phone, "phone-complaint-typed")
    phone.get_by_role("button", name="Envoyer").tap()
    expect(phone.get_by_role("heading", name="Merci, votre message est enregistré")).to_be_visible()
    reference = phone.locator(".reference").inner_text()
    with app.app_context():
        complaint = db.session.scalar(select(Complaint).where(Complaint.reference == reference))
        assert complaint.kind == ComplaintKind.COMPLAINT
        assert complaint.text == words
        assert complaint.service_id == office.services["CNI"].id
