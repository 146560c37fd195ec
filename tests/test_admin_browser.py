"""A manager pairs a waiting-room display and writes its message line, in a real Chromium.

The manager adds a display for a second waiting room from the devices page,
sees its pairing address as text and as a QR code (the very address, encoded),
opens that address on the "TV", then sets the message line from the office's
page: the TV shows it without reloading. Screenshots land in
artifacts/screenshots/ (admin-*, tv-*); waits are Playwright's auto-waiting
assertions, never sleeps.
"""

from __future__ import annotations

import re

import pytest

from queue_app.web.qr import qr_data_uri

from .conftest import LAPTOP, PASSWORD, TV_LANDSCAPE, Office, shot

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def sign_in(page, url: str, email: str, next_path: str) -> None:
    page.goto(f"{url}/login?next={next_path}")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def test_a_manager_pairs_a_display_and_sets_its_message(make_page, live_server, office: Office):
    app, url = live_server.app, live_server.url
    public = app.config["PUBLIC_URL"]
    page = make_page(LAPTOP)
    sign_in(page, url, office.users["manager"].email, "/admin/sites/thies/devices")
    expect(page.get_by_role("heading", name="Appareils")).to_be_visible()

    # Only the fields of the chosen kind.
    kind = page.get_by_label("Type")
    kind.select_option("kiosk")
    expect(page.get_by_label("Imprimante de tickets")).to_be_visible()
    expect(page.get_by_text("Services affichés")).to_be_hidden()
    kind.select_option("display")
    expect(page.get_by_label("Imprimante de tickets")).to_be_hidden()
    expect(page.get_by_text("Services affichés")).to_be_visible()
    page.get_by_label("Nom", exact=True).fill("Écran salle 2")
    page.get_by_label("Carte nationale d'identité").check()
    shot(page, "admin-device-new-display")
    page.get_by_role("button", name="Ajouter l'appareil").click()

    # The pairing address, as text and as the QR code of that very text.
    address = page.locator("#address-1")
    expect(address).to_contain_text("/display/thies?token=gd_")
    pairing = address.inner_text().strip()
    token = page.locator("#token").inner_text().strip()
    assert pairing == f"{public}/display/thies?token={token}"
    qr = page.locator("img.qr").first
    expect(qr).to_be_visible()
    assert qr.get_attribute("src") == qr_data_uri(pairing)
    assert page.evaluate("document.querySelector('img.qr').naturalWidth") > 0
    shot(page, "admin-device-pairing")
    # The screens above the counters, folded under the first address.
    page.locator("details.other-targets summary").click()
    expect(page.locator(".pairing-address")).to_have_count(1 + len(office.counters))
    expect(
        page.get_by_role("heading", name=re.compile("Écran au-dessus de Guichet 1"))
    ).to_be_visible()
    shot(page, "admin-device-pairing-counters")

    # The TV opens the address it was given.
    tv = make_page(TV_LANDSCAPE)
    tv.goto(pairing.replace(public, url))
    expect(tv.locator("#message")).to_be_hidden()

    page.get_by_role("link", name="Général").click()
    message = page.get_by_label("Message sur les écrans de la salle d'attente")
    message.fill("Le service CNI ferme à 12 h aujourd'hui.")
    page.get_by_role("button", name="Afficher sur les écrans").click()
    expect(page.get_by_role("status")).to_have_text("Le message est sur les écrans.")
    expect(page.locator(".display-message-now")).to_have_text(
        "Le service CNI ferme à 12 h aujourd'hui."
    )
    shot(page, "admin-display-message")
    expect(tv.locator("#message")).to_have_text("Le service CNI ferme à 12 h aujourd'hui.")
    shot(tv, "tv-display-message", full_page=False)

    page.get_by_role("button", name="Retirer le message").click()
    expect(page.get_by_role("status")).to_have_text("Les écrans n'affichent plus de message.")
    expect(tv.locator("#message")).to_be_hidden()

    # The change log says who did it.
    page.goto(f"{url}/admin/audit")
    expect(page.locator("tbody tr").first).to_contain_text("message des écrans")
    expect(page.locator("tbody tr").first).to_contain_text("manager@thies.sn")
    shot(page, "admin-audit-display-message", full_page=False)


def test_the_new_settings_pages_look_right(make_page, live_server, office: Office):
    """Screenshots of the other pages this work added, with their scripts running."""
    url = live_server.url
    page = make_page(LAPTOP)
    sign_in(page, url, office.users["manager"].email, "/admin/sites/thies/hours")
    always = page.get_by_label("Ouverte à toute heure : pas d'horaires")
    expect(always).to_be_checked()
    expect(page.locator("[data-weekly-hours]")).to_be_hidden()
    page.get_by_label("Ouverte selon ces horaires hebdomadaires").check()
    expect(page.locator("[data-weekly-hours]")).to_be_visible()
    page.locator("#monday_0_start").fill("08:00")
    page.locator("#monday_0_end").fill("16:00")
    page.get_by_role("button", name="Enregistrer les horaires").click()
    expect(page.get_by_role("status")).to_have_text("Horaires enregistrés.")
    expect(page.locator(".badge.day-closed")).to_have_count(6)
    shot(page, "admin-hours-modes")

    page.goto(f"{url}/admin/sites/thies/services/CNI")
    page.get_by_label("Les usagers peuvent prendre rendez-vous (page web et SMS)").check()
    page.get_by_label("Usagers par créneau").fill("2")
    page.get_by_text("Passeport", exact=True).click()
    expect(page.locator("input[value='passport']")).to_be_checked()
    shot(page, "admin-service-booking")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("status")).to_have_text("Modifications enregistrées.")
    row = page.get_by_role("row", name=re.compile("Carte nationale"))
    expect(row).to_contain_text("15 min × 2")

    page.goto(f"{url}/admin/sites/thies/devices")
    page.get_by_role("link", name="kiosk thies").click()
    page.get_by_label("Imprimante de tickets").fill("dummy:")
    page.get_by_label("Pied du ticket").fill("Ouvert de 8 h à 16 h\nTél. 33 951 00 00")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("status")).to_have_text("Modifications enregistrées.")
    page.get_by_role("link", name="Interroger l'imprimante maintenant").click()
    expect(page.locator("#printer-status")).to_contain_text("Imprimante prête")
    shot(page, "admin-kiosk-printer")

    page.goto(f"{url}/admin/sites/thies/sms")
    page.get_by_label("Passerelle", exact=True).select_option("android")
    expect(page.get_by_label("Adresse de la passerelle du téléphone")).to_be_visible()
    expect(page.get_by_label("Jeton d'authentification")).to_be_hidden()
    page.get_by_label("Adresse de la passerelle du téléphone").fill("http://192.168.1.20:8080")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("status")).to_have_text("Passerelle SMS enregistrée.")
    shot(page, "admin-sms-gateway")

    page.goto(f"{url}/admin/sites/thies/voices")
    expect(page.get_by_role("heading", name="Voix des appels")).to_be_visible()
    shot(page, "admin-voices-manager", full_page=False)

    page.goto(f"{url}/admin/sites/thies/appointments")
    expect(page.get_by_role("heading", name=re.compile("aujourd'hui"))).to_be_visible()
    shot(page, "admin-appointments", full_page=False)
