"""Operations in a real Chromium: the devices page shows a kiosk online once it is used,
and an alert appears as a banner in the agent console (and the admin) by itself.

Waits are Playwright's auto-waiting assertions (the devices page reads its table
again every 15 s; the console follows the ``alerts_changed`` event), never sleeps.
Screenshots land in artifacts/screenshots/ (ops-*).
"""

from __future__ import annotations

import pytest

from queue_app.extensions import db
from queue_app.models import utcnow
from queue_app.ops import alerts

from .conftest import LAPTOP, PASSWORD, Api, Office, shot

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KIOSK_PORTRAIT = {"width": 1080, "height": 1920}


def sign_in(page, url: str, email: str, next_path: str) -> None:
    page.goto(f"{url}/login?next={next_path}")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def test_the_devices_page_shows_a_kiosk_online_once_it_is_used(
    make_page, live_server, office: Office
):
    url = live_server.url
    admin = make_page(LAPTOP)
    sign_in(admin, url, office.users["manager"].email, f"/admin/sites/{office.slug}/devices")
    expect(admin.get_by_role("heading", name="Appareils")).to_be_visible(timeout=20_000)
    kiosk_row = admin.locator("tr", has=admin.get_by_role("link", name="kiosk thies"))
    expect(kiosk_row).to_contain_text("Jamais vu")
    shot(admin, "ops-devices-never-seen")

    # A citizen takes a ticket at the kiosk.
    kiosk = make_page(KIOSK_PORTRAIT)
    kiosk.goto(f"{url}/kiosk/{office.slug}?token={office.tokens['kiosk']}")
    kiosk.get_by_role("button", name="Carte nationale d'identité").click()
    expect(kiosk.locator("#ticket-label")).to_have_text("B-001")

    # The devices page follows by itself (no reload).
    expect(kiosk_row).to_contain_text("En ligne", timeout=25_000)
    expect(kiosk_row).not_to_contain_text("Jamais vu")
    display_row = admin.locator("tr", has=admin.get_by_role("link", name="display thies"))
    expect(display_row).to_contain_text("Jamais vu")
    assert admin.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]
    shot(admin, "ops-devices-kiosk-online")


def test_an_alert_shows_as_a_banner_in_the_console_and_the_admin(
    make_page, live_server, office: Office
):
    app, url = live_server.app, live_server.url
    api = Api(app, office)
    page = make_page(LAPTOP)
    sign_in(page, url, office.users["agent"].email, "/agent/")
    card = page.locator(".counter-card", has=page.get_by_role("heading", name="Guichet 2"))
    card.get_by_role("button", name="Ouvrir ce guichet").click()
    expect(page.get_by_role("heading", name="Guichet 2")).to_be_visible()
    expect(page.locator("#live")).to_have_attribute("data-state", "on")
    banner = page.locator("[data-ops-alerts]")
    expect(banner).to_have_count(0)

    # The kiosk's print agent says the printer is out of paper; the next evaluation alerts.
    kiosk_id = next(
        d["id"]
        for d in api.get(f"sites/{office.slug}/devices", "manager").get_json()
        if d["kind"] == "kiosk"
    )
    agent_id = next(
        d["id"]
        for d in api.get(f"sites/{office.slug}/devices", "manager").get_json()
        if d["kind"] == "printer"
    )
    api.patch(f"sites/{office.slug}/devices/{kiosk_id}", "manager", json={"print_agent": agent_id})
    report = {"online": True, "paper": "out", "cover": "closed", "error": None}
    assert api.post("print-agents/me/printer-status", "printer", json=report).status_code == 200
    with app.app_context():
        alerts.evaluate(db.session, now=utcnow())
        db.session.commit()

    expect(banner).to_contain_text(
        "L'imprimante de kiosk thies n'a plus de papier.", timeout=15_000
    )
    shot(page, "ops-console-alert")

    admin = make_page(LAPTOP)
    sign_in(admin, url, office.users["manager"].email, f"/admin/sites/{office.slug}/devices")
    # (A loaded machine may take seconds to sign in.)
    expect(admin.locator("[data-ops-alerts]")).to_contain_text("n'a plus de papier", timeout=20_000)
    expect(admin.locator("tr", has=admin.get_by_role("link", name="kiosk thies"))).to_contain_text(
        "Plus de papier"
    )
    shot(admin, "ops-admin-alert")

    # Paper back: the alert closes and the banner goes away by itself.
    report["paper"] = "ok"
    assert api.post("print-agents/me/printer-status", "printer", json=report).status_code == 200
    with app.app_context():
        alerts.evaluate(db.session, now=utcnow())
        db.session.commit()
    expect(banner).to_have_count(0)
