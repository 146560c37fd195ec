"""The touch kiosk in a real Chromium, at its real sizes: from tap to ticket (screen and paper).

Screenshots land in artifacts/screenshots/kiosk-*.png for people to look at.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from queue_app.extensions import db
from queue_app.models import Device, DeviceKind
from queue_app.printing.devices import configure_printer

from .conftest import TV_LANDSCAPE, TV_PORTRAIT, Office, shot
from .fake_printer import FakePrinter

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KIOSK_PORTRAIT = TV_PORTRAIT  # 1080 × 1920, the usual totem kiosk
KIOSK_LANDSCAPE = TV_LANDSCAPE  # 1920 × 1080


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {
        "KIOSK_APPOINTMENTS": True,
        "KIOSK_RESET_SECONDS": 6,
        "PRINT_RETRY_BASE_SECONDS": 0.1,
        "PRINT_RETRY_MAX_SECONDS": 0.3,
        "PRINT_TIMEOUT_SECONDS": 1.0,
    }


def set_kiosk_printer(office: Office, url: str | None) -> None:
    """The kiosk's printer URL; the services get their pictograms."""
    with office.app.app_context():
        from queue_app.queue.sites import get_service, get_site, update_service

        site = get_site(db.session, office.slug)
        for code, icon in (("CASIER", "certificate"), ("CNI", "id-card")):
            update_service(db.session, get_service(db.session, site, code), {"icon": icon})
        kiosk = db.session.scalar(
            select(Device).where(Device.site_id == office.site.id, Device.kind == DeviceKind.KIOSK)
        )
        configure_printer(db.session, kiosk, {"printer": url})
        db.session.commit()


def open_kiosk(make_page, live_server, office: Office, viewport: dict[str, int]) -> Any:
    page = make_page(viewport=viewport)
    page.goto(f"{live_server.url}/kiosk/{office.slug}?token={office.tokens['kiosk']}")
    expect(page.locator("#screen-home")).to_be_visible()
    return page


def test_portrait_kiosk_from_tap_to_printed_ticket(make_page, live_server, office):
    printer = FakePrinter().start()
    set_kiosk_printer(office, printer.url)
    try:
        page = open_kiosk(make_page, live_server, office, KIOSK_PORTRAIT)
        expect(
            page.get_by_role("heading", name="Touchez le service qui vous amène")
        ).to_be_visible()
        services = page.locator("button.service")
        expect(services).to_have_count(2)
        expect(services.first).to_contain_text("Casier judiciaire")
        expect(services.first).to_contain_text("Criminal record")
        expect(page.get_by_role("button", name="J'ai un rendez-vous")).to_be_visible()
        shot(page, "kiosk-portrait-home", full_page=False)

        elderly = page.get_by_role("button", name="Personne âgée")
        elderly.click()
        expect(elderly).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#priority-note")).to_be_visible()
        page.get_by_role("button", name="Carte nationale d'identité").click()

        ticket = page.locator("#screen-ticket")
        expect(ticket).to_be_visible()
        expect(page.locator("#ticket-label")).to_have_text("B-001")
        expect(page.locator("#ticket-priority")).to_be_visible()
        expect(page.locator("#ticket-ahead")).to_have_text("Vous êtes le prochain !")
        expect(page.locator("#print-state")).to_have_text("Prenez votre ticket ci-dessous.")
        qr = page.locator("#ticket-qr")
        expect(qr).to_have_attribute("src", re.compile(r"^/kiosk/qr/[A-Z0-9]+\.svg$"))
        page.wait_for_function("document.getElementById('ticket-qr').naturalWidth > 0")
        # The code under the QR, as on the paper: for a phone that cannot scan it.
        code = qr.get_attribute("src").split("/")[-1].removesuffix(".svg")
        expect(page.locator("#ticket-code")).to_have_text(f"{code[:4]}-{code[4:]}")
        expect(page.locator(".ticket-code")).to_contain_text("Code de suivi")
        shot(page, "kiosk-portrait-ticket", full_page=False)
        assert printer.wait_for(1)
        assert b"B-001" in printer.prints[0]
        assert b"PRIORITAIRE" in printer.prints[0]

        # Back to the services by itself, the priority choice forgotten.
        expect(page.locator("#screen-home")).to_be_visible(timeout=10_000)
        expect(elderly).to_have_attribute("aria-pressed", "false")
        page.get_by_role("button", name="Casier judiciaire").click()
        expect(page.locator("#ticket-label")).to_have_text("A-001")
        page.get_by_role("button", name="Terminé").click()
        expect(page.locator("#screen-home")).to_be_visible()
        assert printer.wait_for(2)
        assert len(printer.prints) == 2
    finally:
        printer.stop()


def test_landscape_kiosk_when_the_printer_is_unplugged(make_page, live_server, office):
    printer = FakePrinter()  # unplugged
    set_kiosk_printer(office, printer.url)
    page = open_kiosk(make_page, live_server, office, KIOSK_LANDSCAPE)
    shot(page, "kiosk-landscape-home", full_page=False)
    page.get_by_role("button", name="Casier judiciaire").click()
    expect(page.locator("#ticket-label")).to_have_text("A-001")
    state = page.locator("#print-state")
    expect(state).to_have_attribute("data-state", "failed", timeout=12_000)
    expect(state).to_contain_text("L'imprimante ne répond pas")
    shot(page, "kiosk-landscape-printer-down", full_page=False)
    # Plugged back in: the spooled ticket comes out, once.
    printer.start()
    try:
        assert printer.wait_for(1, timeout=15)
        assert b"A-001" in printer.prints[0]
    finally:
        printer.stop()


def test_appointment_check_in_screen(make_page, live_server, office):
    page = open_kiosk(make_page, live_server, office, KIOSK_PORTRAIT)
    page.get_by_role("button", name="J'ai un rendez-vous").click()
    expect(page.locator("#screen-checkin")).to_be_visible()
    confirm = page.get_by_role("button", name="Valider")
    expect(confirm).to_be_disabled()
    for key in "K7Q2X":
        page.locator(f'.key[data-key="{key}"]').click()
    page.get_by_role("button", name="Effacer").click()
    page.locator('.key[data-key="M"]').click()
    expect(page.locator("#reference")).to_have_text("K7Q2M")
    # No 0/O nor 1/I on the keypad: references cannot be mistyped that way.
    for ambiguous in "0O1I":
        expect(page.locator(f'.key[data-key="{ambiguous}"]')).to_have_count(0)
    shot(page, "kiosk-portrait-checkin", full_page=False)
    confirm.click()
    error = page.locator("#checkin-error")
    expect(error).to_have_text("Cette référence est inconnue. Vérifiez-la et réessayez.")
    shot(page, "kiosk-portrait-checkin-unknown", full_page=False)
    page.get_by_role("button", name="Retour").click()
    expect(page.locator("#screen-home")).to_be_visible()


def _appointment_now(office: Office, reference: str) -> None:
    """A CNI appointment whose slot starts in ten minutes (check-in is open)."""
    from datetime import timedelta

    from queue_app.models import Appointment, utcnow
    from queue_app.queue.days import service_day
    from queue_app.queue.sites import get_site

    with office.app.app_context():
        site = get_site(db.session, office.slug)
        start = utcnow().replace(microsecond=0) + timedelta(minutes=10)
        db.session.add(
            Appointment(
                site_id=site.id,
                service_id=office.services["CNI"].id,
                reference=reference,
                slot_start=start,
                slot_end=start + timedelta(minutes=15),
                service_day=service_day(site, start),
                phone="+221771234567",
                name="Awa Diallo",
            )
        )
        db.session.commit()


def test_a_citizen_checks_in_an_appointment_and_takes_the_ticket(make_page, live_server, office):
    printer = FakePrinter().start()
    set_kiosk_printer(office, printer.url)
    _appointment_now(office, "K7Q2XM")
    try:
        page = open_kiosk(make_page, live_server, office, KIOSK_PORTRAIT)
        page.get_by_role("button", name="J'ai un rendez-vous").click()
        for key in "k7q2xm".upper():
            page.locator(f'.key[data-key="{key}"]').click()
        page.get_by_role("button", name="Valider").click()
        expect(page.locator("#screen-ticket")).to_be_visible()
        expect(page.locator("#ticket-label")).to_have_text("B-001")
        expect(page.locator("#print-state")).to_have_text("Prenez votre ticket ci-dessous.")
        shot(page, "kiosk-portrait-checked-in", full_page=False)
        assert printer.wait_for(1)
        assert b"B-001" in printer.prints[0]
        # The appointment is checked in once: the same code again is refused.
        page.get_by_role("button", name="Terminé").click()
        page.get_by_role("button", name="J'ai un rendez-vous").click()
        for key in "K7Q2XM":
            page.locator(f'.key[data-key="{key}"]').click()
        page.get_by_role("button", name="Valider").click()
        expect(page.locator("#checkin-error")).to_be_visible()
        assert len(printer.prints) == 1
    finally:
        printer.stop()


def test_closed_office_says_so_and_returns(make_page, live_server, office):
    page = open_kiosk(make_page, live_server, office, KIOSK_LANDSCAPE)
    with office.app.app_context():
        from queue_app.queue.sites import get_site

        site = get_site(db.session, office.slug)
        site.hours = {"monday": []}  # hours set, no opening interval: closed every day
        db.session.commit()
    page.get_by_role("button", name="Casier judiciaire").click()
    expect(page.locator("#problem-text")).to_contain_text("fermé")
    page.get_by_role("button", name="Retour").click()
    expect(page.locator("#screen-home")).to_be_visible()


def test_a_kiosk_without_a_valid_token_shows_nothing(make_page, live_server, office):
    page = make_page(viewport=KIOSK_PORTRAIT)
    response = page.goto(f"{live_server.url}/kiosk/{office.slug}?token=gd_wrong")
    assert response.status == 403
    expect(page.get_by_role("heading", name="Cette borne n'est pas configurée")).to_be_visible()
    expect(page.locator("button.service")).to_have_count(0)


# --- Eight services at every size a kiosk comes in ---------------------------------

EIGHT_SERVICES = (
    # code, French, English, prefix, pictogram
    ("PASSEPORT", "Passeport", "Passport", "C", "passport"),
    ("NAISSANCE", "Extrait d'acte de naissance", "Birth certificate", "D", "family"),
    ("RESIDENCE", "Certificat de résidence", "Certificate of residence", "E", "house"),
    ("LEGAL", "Légalisation de documents", "Certification of documents", "F", "stamp"),
    ("PERMIS", "Permis de conduire", "Driving licence", "G", "car"),
    ("NATIONALITE", "Certificat de nationalité", "Certificate of nationality", "H", "document"),
)

KIOSK_SIZES = {
    "portrait-totem": KIOSK_PORTRAIT,
    "portrait-tablet": {"width": 800, "height": 1280},
    "landscape-1920": KIOSK_LANDSCAPE,
    "landscape-1366": {"width": 1366, "height": 768},
    "landscape-1280": {"width": 1280, "height": 800},
}

# Where a finger lands: the element at the centre of each button must be that button,
# the button whole inside the window, the window not scrolled nor scrollable sideways.
_TOUCHABLE = """
(selector) => Array.from(document.querySelectorAll(selector)).map((el) => {
  const r = el.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return {
    text: el.textContent.trim().replace(/\\s+/g, ' ').slice(0, 40),
    inside: r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth
      && r.width > 0 && r.height > 0,
    hit: !!hit && (hit === el || el.contains(hit)),
    box: [Math.round(r.left), Math.round(r.top), Math.round(r.right), Math.round(r.bottom)],
  };
})
"""

_SCROLLS = """
() => {
  const doc = document.scrollingElement;
  const scrollers = Array.from(document.querySelectorAll('#screen-home, #screen-home *'))
    .filter((el) => el.scrollHeight > el.clientHeight + 1
      && ['auto', 'scroll'].includes(getComputedStyle(el).overflowY))
    .map((el) => el.className || el.id);
  return {
    sideways: doc.scrollWidth > innerWidth || scrollX !== 0,
    down: doc.scrollHeight > innerHeight || scrollY !== 0,
    scrollers,
  };
}
"""


def add_six_services(office: Office) -> None:
    """The office's two services and six more: eight buttons on the kiosk."""
    with office.app.app_context():
        from queue_app.queue.sites import create_service, get_site

        site = get_site(db.session, office.slug)
        for code, french, english, prefix, icon in EIGHT_SERVICES:
            create_service(
                db.session,
                site,
                code,
                names={"fr": french, "en": english},
                prefix=prefix,
                icon=icon,
            )
        db.session.commit()


def assert_all_touchable(page: Any, where: str) -> None:
    buttons = page.evaluate(
        _TOUCHABLE, "#screen-home button.service, #screen-home .priority-choice, #open-checkin"
    )
    assert len(buttons) == 8 + 3 + 1, buttons
    hidden = [b for b in buttons if not (b["inside"] and b["hit"])]
    assert not hidden, f"{where}: buttons a finger cannot reach without scrolling: {hidden}"
    scrolls = page.evaluate(_SCROLLS)
    assert not scrolls["sideways"], f"{where}: the page scrolls sideways"
    assert not scrolls["down"], f"{where}: the page scrolls down"
    assert not scrolls["scrollers"], f"{where}: part of the page must be scrolled: {scrolls}"
    # Each button's words and picture whole inside it, none cut by its edge.
    clipped = page.evaluate(
        """() => Array.from(document.querySelectorAll('#screen-home button'))
          .filter((el) => el.scrollHeight > el.clientHeight + 1
            || el.scrollWidth > el.clientWidth + 1)
          .map((el) => el.textContent.trim().replace(/\\s+/g, ' '))"""
    )
    assert not clipped, f"{where}: buttons whose text or picture is cut: {clipped}"


@pytest.mark.parametrize("size", list(KIOSK_SIZES), ids=list(KIOSK_SIZES))
def test_eight_services_all_within_reach(make_page, live_server, office, size):
    """Every service, the priority choice and the appointment button without scrolling."""
    add_six_services(office)
    set_kiosk_printer(office, None)
    page = open_kiosk(make_page, live_server, office, KIOSK_SIZES[size])
    expect(page.locator("button.service")).to_have_count(8)
    assert_all_touchable(page, f"{size}, home")
    shot(page, f"kiosk-8-services-{size}", full_page=False)

    # A priority chosen: its note appears, and still everything is within reach.
    page.get_by_role("button", name="Femme enceinte").click()
    expect(page.locator("#priority-note")).to_be_visible()
    assert_all_touchable(page, f"{size}, priority chosen")
    shot(page, f"kiosk-8-services-{size}-priority", full_page=False)

    # The last service, as a finger would touch it: a priority ticket.
    page.get_by_role("button", name="Certificat de nationalité").click()
    expect(page.locator("#ticket-label")).to_have_text("H-001")
    expect(page.locator("#ticket-priority")).to_be_visible()
    expect(page.locator("#ticket-code")).to_have_text(re.compile(r"^[A-Z2-9]{4}-[A-Z2-9]{4}$"))
    (code,) = page.evaluate(_TOUCHABLE, "#ticket-code")
    assert code["inside"], code
    done = page.evaluate(_TOUCHABLE, "#ticket-done")
    assert done[0]["inside"], done
    assert done[0]["hit"], done
    shot(page, f"kiosk-8-services-{size}-ticket", full_page=False)
    page.get_by_role("button", name="Terminé").click()
    expect(page.locator("#screen-home")).to_be_visible()
    assert_all_touchable(page, f"{size}, after a ticket")

    # The first service and the appointment button, the corners of the grid.
    page.get_by_role("button", name="Casier judiciaire").click()
    expect(page.locator("#ticket-label")).to_have_text("A-001")
    page.get_by_role("button", name="Terminé").click()
    page.get_by_role("button", name="J'ai un rendez-vous").click()
    expect(page.locator("#screen-checkin")).to_be_visible()
    shot(page, f"kiosk-8-services-{size}-checkin", full_page=False)
    keys = page.evaluate(_TOUCHABLE, "#screen-checkin button")
    unreachable = [k for k in keys if not (k["inside"] and k["hit"])]
    assert not unreachable, f"{size}: keys a finger cannot reach: {unreachable}"
