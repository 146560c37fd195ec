"""The settings of displays, kiosks, booking and devices from the administration pages.

Each form saves, shows the saved value back, and leaves an entry in the change
log with its author; a manager of another office is refused and changes nothing.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from queue_app.extensions import db
from queue_app.models import AuditEntry, Device, Service, Site

from .conftest import Api
from .quality_helpers import csrf_of, post_form, sign_in

TOKEN_RE = re.compile(r'id="token">(gd_[^<]+)<')


def _follow(client, response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    return html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))


def _entries(app, object_type: str) -> list[AuditEntry]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEntry)
                .where(AuditEntry.object_type == object_type)
                .order_by(AuditEntry.id)
            )
        )


def _site(app, slug: str = "thies") -> Site:
    with app.app_context():
        site = db.session.scalar(select(Site).where(Site.slug == slug))
        db.session.expunge(site)
        return site


@pytest.fixture
def manager(app, office):
    client = app.test_client()
    sign_in(client, office.users["manager"].email)
    return client


def test_the_display_message_is_set_shown_logged_and_cleared(app, office, manager):
    api = Api(app, office)
    page = _follow(
        manager,
        post_form(
            manager,
            "/admin/sites/thies",
            {"message": "  Le service CNI ferme à 12 h   aujourd'hui. "},
            action="/admin/sites/thies/display-message",
        ),
    )
    assert "Le message est sur les écrans" in page
    assert "Le service CNI ferme à 12 h aujourd'hui." in page
    # What a display of the office reads.
    shown = api.get("sites/thies/display-message", "display").get_json()
    assert shown == {"message": "Le service CNI ferme à 12 h aujourd'hui."}
    entry = _entries(app, "site")[-1]
    assert entry.actor == office.users["manager"].email
    assert entry.changes == {"display_message": [None, "Le service CNI ferme à 12 h aujourd'hui."]}
    log = html.unescape(manager.get("/admin/audit").get_data(as_text=True))
    assert "message des écrans" in log

    cleared = _follow(
        manager,
        post_form(
            manager,
            "/admin/sites/thies",
            {"message": "ignored", "clear": "1"},
            action="/admin/sites/thies/display-message",
        ),
    )
    assert "Les écrans n'affichent plus de message" in cleared
    assert api.get("sites/thies/display-message", "display").get_json() == {"message": None}
    assert _entries(app, "site")[-1].changes["display_message"][1] is None


def test_a_display_message_too_long_or_with_control_characters_is_refused(app, office, manager):
    for text, error in (("x" * 281, "280"), ("Fermé\x00", "caractères de contrôle")):
        response = post_form(
            manager,
            "/admin/sites/thies",
            {"message": text},
            action="/admin/sites/thies/display-message",
        )
        assert response.status_code == 400
        assert error in html.unescape(response.get_data(as_text=True))
    assert _site(app).display_message is None


def test_opening_hours_always_open_weekly_or_closed(app, office, manager):
    assert _site(app).hours is None
    page = html.unescape(manager.get("/admin/sites/thies/hours").get_data(as_text=True))
    assert "à toute heure" in page
    assert re.search(r'<input checked[^>]*value="always"|value="always"[^>]*checked', page)

    weekly = {"mode": "weekly", "monday_0_start": "08:00", "monday_0_end": "16:00"}
    page = _follow(manager, post_form(manager, "/admin/sites/thies/hours", weekly))
    assert "Horaires enregistrés" in page
    assert _site(app).hours == {"monday": [["08:00", "16:00"]]}
    assert page.count(">Fermé</span>") == 6  # Tuesday to Sunday

    # Weekly hours without any period: explained, nothing saved.
    empty = post_form(manager, "/admin/sites/thies/hours", {"mode": "weekly"})
    assert empty.status_code == 400
    assert "au moins une période" in html.unescape(empty.get_data(as_text=True))
    assert _site(app).hours == {"monday": [["08:00", "16:00"]]}

    _follow(manager, post_form(manager, "/admin/sites/thies/hours", {**weekly, "mode": "closed"}))
    assert _site(app).hours == {}
    page = html.unescape(manager.get("/admin/sites/thies/hours").get_data(as_text=True))
    assert "fermée tous les jours" in page

    _follow(manager, post_form(manager, "/admin/sites/thies/hours", {"mode": "always"}))
    assert _site(app).hours is None
    changes = [e.changes["hours"] for e in _entries(app, "site") if "hours" in e.changes]
    assert changes == [
        [None, {"monday": [["08:00", "16:00"]]}],
        [{"monday": [["08:00", "16:00"]]}, {}],
        [{}, None],
    ]
    log = html.unescape(manager.get("/admin/audit").get_data(as_text=True))
    assert "ouvert à toute heure" in log
    assert "fermé tous les jours" in log


SERVICE_FORM = {
    "name_fr": "Carte nationale d'identité",
    "name_en": "National identity card",
    "prefix": "B",
    "target_wait_minutes": "20",
    "avg_service_minutes": "5",
    "position": "0",
    "is_active": "y",
    "priority_rule": "first",
}


def test_booking_settings_and_pictogram_of_a_service(app, office, manager):
    page = html.unescape(manager.get("/admin/sites/thies/services/CNI").get_data(as_text=True))
    assert "Rendez-vous" in page
    assert "/display/static/kiosk/icons/passport.svg" in page
    saved = post_form(
        manager,
        "/admin/sites/thies/services/CNI",
        {
            **SERVICE_FORM,
            "booking_enabled": "y",
            "slot_minutes": "20",
            "slot_capacity": "3",
            "booking_days_ahead": "30",
            "icon": "id-card",
        },
    )
    listing = _follow(manager, saved)
    assert "20 min × 3" in listing
    assert "jusqu'à 30 jours à l'avance" in listing
    with app.app_context():
        service = db.session.scalar(
            select(Service).where(Service.site_id == office.site.id, Service.code == "CNI")
        )
        assert (service.booking_enabled, service.slot_minutes, service.slot_capacity) == (
            True,
            20,
            3,
        )
        assert (service.booking_days_ahead, service.icon) == (30, "id-card")
    form = html.unescape(manager.get("/admin/sites/thies/services/CNI").get_data(as_text=True))
    assert re.search(r'name="slot_capacity"[^>]*value="3"', form)
    assert re.search(r'checked[^>]*value="id-card"|value="id-card"[^>]*checked', form)
    # The public slots follow the new length.
    api = Api(app, office)
    assert api.get("sites/thies/services/CNI", "kiosk").get_json()["slot_minutes"] == 20
    entry = _entries(app, "service")[-1]
    assert entry.actor == office.users["manager"].email
    assert entry.changes["slot_capacity"] == [1, 3]
    assert entry.changes["icon"][1] == "id-card"
    assert entry.changes["booking_enabled"][1] is True

    # Out of bounds: explained next to the field, nothing saved.
    bad = post_form(
        manager,
        "/admin/sites/thies/services/CNI",
        {**SERVICE_FORM, "slot_minutes": "2", "slot_capacity": "3", "booking_days_ahead": "30"},
    )
    assert bad.status_code == 400
    errors = re.findall(r"field-error[^>]*>([^<]*)<", html.unescape(bad.get_data(as_text=True)))
    assert errors == ["Le nombre doit être compris entre 5 et 480."]
    with app.app_context():
        assert db.session.scalar(select(Service.slot_minutes).where(Service.code == "CNI")) == 20


def test_a_new_service_takes_its_booking_settings_and_pictogram(app, office, manager):
    created = post_form(
        manager,
        "/admin/sites/thies/services/new",
        {
            **SERVICE_FORM,
            "code": "etat-civil",
            "name_fr": "État civil",
            "name_en": "",
            "prefix": "E",
            "booking_enabled": "y",
            "slot_minutes": "10",
            "slot_capacity": "2",
            "booking_days_ahead": "7",
            "icon": "family",
        },
    )
    assert "Service État civil créé" in _follow(manager, created)
    with app.app_context():
        service = db.session.scalar(select(Service).where(Service.code == "ETAT-CIVIL"))
        assert (service.booking_enabled, service.slot_minutes, service.slot_capacity) == (
            True,
            10,
            2,
        )
        assert (service.booking_days_ahead, service.icon) == (7, "family")


def _device_id(app, kind: str, slug: str = "thies") -> int:
    with app.app_context():
        return db.session.scalar(
            select(Device.id).join(Site).where(Site.slug == slug, Device.kind == kind)
        )


def test_a_display_for_a_second_waiting_room_paired_by_its_qr_codes(app, office, manager):
    g2 = office.counters["g2"].id
    page = post_form(
        manager,
        "/admin/sites/thies/devices",
        {"kind": "display", "name": "Écran salle 2", "counter": str(g2), "services": ["CNI"]},
    )
    assert page.status_code == 200, page.get_data(as_text=True)[:2000]
    assert page.headers["Cache-Control"] == "no-store"
    text = html.unescape(page.get_data(as_text=True))
    token = TOKEN_RE.search(text).group(1)
    addresses = re.findall(r'class="token-value pairing-address"[^>]*>([^<]+)<', text)
    # The screen above the chosen counter first, then the waiting room, then the other counters.
    assert addresses[0] == f"http://testserver/display/thies/counters/{g2}?token={token}"
    assert addresses[1] == f"http://testserver/display/thies?token={token}"
    assert len(addresses) == 1 + len(office.counters)
    assert text.count('src="data:image/svg+xml') == len(addresses)
    assert "Écran au-dessus de Guichet 2" in text
    with app.app_context():
        device = db.session.scalar(select(Device).where(Device.name == "Écran salle 2"))
        assert [s.code for s in device.services] == ["CNI"]
        device_id = device.id
    # The paired display reads the board of its services only.
    api = Api(app, office)
    assert api.get("sites/thies/board", token).status_code == 200
    created = [e for e in _entries(app, "device") if e.action == "create"][-1]
    assert created.actor == office.users["manager"].email
    assert created.changes["services_shown"] == [None, ["CNI"]]
    assert token not in str(created.changes)

    # Its own page: back to every service.
    edit = f"/admin/sites/thies/devices/{device_id}"
    form = html.unescape(manager.get(edit).get_data(as_text=True))
    assert re.search(r'checked[^>]*value="CNI"|value="CNI"[^>]*checked', form)
    assert 'name="printer"' not in form
    _follow(manager, post_form(manager, edit, {"name": "Écran salle 2"}))
    with app.app_context():
        assert db.session.get(Device, device_id).services == []
    assert _entries(app, "device")[-1].changes == {"services_shown": [["CNI"], []]}
    listing = html.unescape(manager.get("/admin/sites/thies/devices").get_data(as_text=True))
    assert "Écran salle 2" in listing
    assert token not in listing


def test_a_kiosk_printer_set_checked_and_logged(app, office, manager):
    page = post_form(
        manager,
        "/admin/sites/thies/devices",
        {"kind": "kiosk", "name": "Borne 2", "counter": "", "printer": "dummy:"},
    )
    text = html.unescape(page.get_data(as_text=True))
    token = TOKEN_RE.search(text).group(1)
    assert f"http://testserver/kiosk/thies?token={token}" in text
    with app.app_context():
        kiosk = db.session.scalar(select(Device).where(Device.name == "Borne 2"))
        assert kiosk.printer == "dummy:"
        kiosk_id = kiosk.id
    edit = f"/admin/sites/thies/devices/{kiosk_id}"
    agent_id = _device_id(app, "printer")

    # A printer address the server cannot use is explained; nothing changes.
    bad = post_form(
        manager,
        edit,
        {"name": "Borne 2", "printer": "ftp://10.0.0.5", "paper_width_mm": "80",
         "codepage": "cp1252", "qr": "native", "print_agent": ""},
    )  # fmt: skip
    assert bad.status_code == 400
    assert "ftp" in html.unescape(bad.get_data(as_text=True))

    saved = post_form(
        manager,
        edit,
        {
            "name": "Borne de l'entrée",
            "printer": "usb://04b8:0202",
            "print_agent": str(agent_id),
            "paper_width_mm": "58",
            "codepage": "cp858",
            "qr": "image",
            "footer": "Ouvert 8h-17h\r\n\r\nTél. 33 951 00 00",
        },
    )
    shown = _follow(manager, saved)
    assert "Modifications enregistrées" in shown
    assert 'value="usb://04b8:0202"' in shown
    assert "par son agent d'impression" in shown
    with app.app_context():
        kiosk = db.session.get(Device, kiosk_id)
        assert (kiosk.name, kiosk.printer, kiosk.print_agent_id) == (
            "Borne de l'entrée",
            "usb://04b8:0202",
            agent_id,
        )
        assert kiosk.printer_options == {
            "paper_width_mm": 58,
            "codepage": "cp858",
            "qr": "image",
            "footer": ["Ouvert 8h-17h", "Tél. 33 951 00 00"],
        }
    # The API reads what the page set.
    api = Api(app, office)
    printer = api.get(f"sites/thies/devices/{kiosk_id}/printer", "manager").get_json()
    assert (printer["via"], printer["print_agent"]) == ("agent", agent_id)
    entry = _entries(app, "device")[-1]
    assert entry.actor == office.users["manager"].email
    assert entry.changes["printer"] == ["dummy:", "usb://04b8:0202"]
    assert entry.changes["print_agent"] == [None, "printer thies"]
    assert entry.changes["printer_options"][0] == {}
    log = html.unescape(manager.get("/admin/audit").get_data(as_text=True))
    assert "agent d'impression" in log

    # Back to the server's own printer, default layout: the options are emptied.
    _follow(
        manager,
        post_form(
            manager,
            edit,
            {"name": "Borne de l'entrée", "printer": "dummy:", "print_agent": "",
             "paper_width_mm": "80", "codepage": "cp1252", "qr": "native", "footer": ""},
        ),
    )  # fmt: skip
    with app.app_context():
        kiosk = db.session.get(Device, kiosk_id)
        assert (kiosk.printer_options, kiosk.print_agent_id) == ({}, None)
    # Ask the printer: a dummy printer is always ready.
    checked = manager.get(f"{edit}?refresh=1")
    assert html.unescape(_follow(manager, checked)).count("Imprimante prête") == 1


def test_a_ticket_that_did_not_print_is_sent_again(app, office, manager):
    from queue_app.models import PrintJob, PrintJobStatus

    kiosk_id, agent_id = _device_id(app, "kiosk"), _device_id(app, "printer")
    api = Api(app, office)
    # Printed by a print agent that is not running: the job waits, then is given up.
    settings = {"printer": "usb://04b8:0202", "print_agent": agent_id}
    assert (
        api.patch(f"sites/thies/devices/{kiosk_id}", "manager", json=settings)
    ).status_code == 200
    ticket = api.issue("CNI")
    with app.app_context():
        job = db.session.scalar(select(PrintJob).where(PrintJob.ticket_id == ticket["id"]))
        job.status = PrintJobStatus.FAILED
        job.last_error = "paper out"
        db.session.commit()
        job_id = job.id
    listing = html.unescape(manager.get("/admin/sites/thies/devices").get_data(as_text=True))
    assert "Tickets non imprimés" in listing
    assert ticket["label"] in listing
    assert "paper out" in listing
    sent = post_form(
        manager,
        "/admin/sites/thies/devices",
        {},
        action=f"/admin/sites/thies/print-jobs/{job_id}/reprint",
    )
    assert f"Ticket {ticket['label']} renvoyé à l'imprimante" in _follow(manager, sent)
    with app.app_context():
        assert db.session.get(PrintJob, job_id).status != PrintJobStatus.FAILED


def test_another_office_manager_cannot_touch_these_settings(app, office, make_office):
    make_office(app, slug="dakar")
    client = app.test_client()
    sign_in(client, "manager@dakar.sn")
    token = csrf_of(client.get("/admin/sites/dakar").get_data(as_text=True))
    kiosk_id = _device_id(app, "kiosk")
    with app.app_context():
        entries = db.session.query(AuditEntry).count()
    for url, data in (
        ("/admin/sites/thies/display-message", {"message": "Intrus"}),
        (f"/admin/sites/thies/devices/{kiosk_id}", {"name": "Intrus", "printer": "dummy:"}),
        ("/admin/sites/thies/devices", {"kind": "display", "name": "Intrus"}),
        ("/admin/sites/thies/print-jobs/1/reprint", {}),
        ("/admin/sites/thies/hours", {"mode": "closed"}),
    ):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url
    assert client.get(f"/admin/sites/thies/devices/{kiosk_id}").status_code == 403
    with app.app_context():
        assert db.session.query(AuditEntry).count() == entries
    assert _site(app).display_message is None


def test_the_appointments_of_a_day_read_by_the_manager(app, office):
    import time_machine

    api = Api(app, office)
    with time_machine.travel(datetime(2026, 12, 7, 7, 0, tzinfo=UTC), tick=False):
        manager = app.test_client()
        sign_in(manager, office.users["manager"].email)
        empty = html.unescape(manager.get("/admin/sites/thies/appointments").get_data(as_text=True))
        assert "lundi 7 décembre 2026" in empty
        assert "Aucun service de cette structure ne prend de rendez-vous" in empty
        enabled = api.patch("sites/thies/services/CNI", "manager", json={"booking_enabled": True})
        assert enabled.status_code == 200
        slots = api.get("sites/thies/services/CNI/slots?date=2026-12-08", None).get_json()
        booked = api.post(
            "sites/thies/appointments",
            None,
            json={
                "service": "CNI",
                "start": slots[0]["start"],
                "phone": "+221 77 123 45 67",
                "name": "Fatou Sarr",
            },
        )
        assert booked.status_code == 201, booked.get_json()
        reference = booked.get_json()["reference"]
        page = html.unescape(
            manager.get("/admin/sites/thies/appointments?date=2026-12-08").get_data(as_text=True)
        )
        # A day that is not a date shows today instead of failing.
        assert manager.get("/admin/sites/thies/appointments?date=demain").status_code == 200
    assert reference in page
    assert "Fatou Sarr" in page
    assert slots[0]["local_time"] in page
    assert "Attendu" in page
    assert "+221 77 123 45 67" not in page
    assert "+22177*****67" in page


def test_an_office_gets_its_own_sms_gateway_without_showing_its_secrets(app, office, manager):
    from queue_app.models import SmsGatewaySettings

    page = html.unescape(manager.get("/admin/sites/thies/sms").get_data(as_text=True))
    assert "passerelle par défaut de l'installation" in page
    # Where the office's phone posts the messages it receives.
    assert "http://testserver/sms/android?site=thies" in page
    android = {
        "gateway": "android",
        "android__base_url": "http://192.168.1.20:8080",
        "android__login": "thies",
        "android__secret__password": "sim-thies-2026",
        "android__secret__signing_key": "",
        "twilio__sender": "ignored",
    }
    shown = _follow(manager, post_form(manager, "/admin/sites/thies/sms", android))
    assert "Passerelle SMS enregistrée" in shown
    assert 'value="http://192.168.1.20:8080"' in shown
    assert "sim-thies-2026" not in shown
    assert "Enregistré\u00a0: laissez vide pour le garder." in shown
    with app.app_context():
        settings = db.session.get(SmsGatewaySettings, office.site.id)
        assert settings.options == {"base_url": "http://192.168.1.20:8080", "login": "thies"}
        assert settings.secrets == {"password": "sim-thies-2026"}
    api = Api(app, office)
    assert api.get("sites/thies/sms-gateway", "manager").get_json() == {
        "gateway": "android",
        "own": True,
        "options": {"base_url": "http://192.168.1.20:8080", "login": "thies"},
        "secrets_set": ["password"],
    }
    # The password left empty is kept; a new one is recorded as "changed", never its value.
    _follow(
        manager,
        post_form(manager, "/admin/sites/thies/sms", {**android, "android__secret__password": ""}),
    )
    with app.app_context():
        assert db.session.get(SmsGatewaySettings, office.site.id).secrets == {
            "password": "sim-thies-2026"
        }
    _follow(
        manager,
        post_form(
            manager,
            "/admin/sites/thies/sms",
            {**android, "android__secret__password": "new-pin-77"},
        ),
    )
    entries = _entries(app, "sms_gateway")
    assert [e.action for e in entries] == ["create", "update"]
    assert entries[0].actor == office.users["manager"].email
    assert entries[1].changes == {"secrets": "changed"}
    assert "sim-thies-2026" not in str([e.changes for e in entries])
    # Back to the installation's default.
    _follow(manager, post_form(manager, "/admin/sites/thies/sms", {"gateway": ""}))
    with app.app_context():
        assert db.session.get(SmsGatewaySettings, office.site.id) is None
    assert _entries(app, "sms_gateway")[-1].action == "delete"
    log = html.unescape(manager.get("/admin/audit").get_data(as_text=True))
    assert "Passerelle SMS" in log


def test_an_admin_uploads_the_office_s_own_recordings(app, office, manager):
    import io

    from queue_app.models import VoiceClip

    admin = app.test_client()
    sign_in(admin, office.users["admin"].email)
    page = admin.get("/admin/sites/thies/voices").get_data(as_text=True)
    token = csrf_of(page)
    sound = b"OggS" + b"\x00" * 2000

    def upload(client, data: bytes, key: str = "ticket"):
        return client.post(
            "/admin/sites/thies/voices",
            data={
                "csrf_token": token,
                "language": "fr",
                "key": key,
                "recording": (io.BytesIO(data), "clip.ogg"),
            },
            content_type="multipart/form-data",
        )

    refused = upload(admin, b"not a sound at all")
    assert refused.status_code == 400
    assert "n'est pas un enregistrement OGG, MP3, WAV ou WebM" in html.unescape(
        refused.get_data(as_text=True)
    )
    # A small limit keeps the test's bodies in memory (large ones are spooled to disk).
    app.config["VOICE_CLIP_MAX_BYTES"] = 8 * 1024
    too_large = upload(admin, b"OggS" + b"\x00" * (9 * 1024))
    assert too_large.status_code == 400
    assert "trop volumineux (8 Kio au plus)" in html.unescape(too_large.get_data(as_text=True))
    assert upload(admin, b"OggS" + b"\x00" * (40 * 1024)).status_code == 413
    # Without its form token (posted from elsewhere): nothing is saved.
    forged = admin.post(
        "/admin/sites/thies/voices",
        data={"language": "fr", "key": "chime", "recording": (io.BytesIO(sound), "c.ogg")},
        content_type="multipart/form-data",
    )
    assert "La page avait expiré" in _follow(admin, forged)
    saved = _follow(admin, upload(admin, sound))
    assert "Enregistrement sauvegardé" in saved
    assert "Le mot «\u00a0ticket\u00a0»" in saved
    api = Api(app, office)
    clips = api.get("sites/thies/voice-clips", "display").get_json()["clips"]
    assert [(c["language"], c["key"], c["size"]) for c in clips] == [("fr", "ticket", 2004)]
    entry = _entries(app, "voice_clip")[-1]
    assert (entry.action, entry.actor, entry.object_label) == (
        "create",
        office.users["admin"].email,
        "fr/ticket",
    )
    assert "OggS" not in str(entry.changes)

    # A manager sees the recordings but neither adds nor removes one.
    listing = html.unescape(manager.get("/admin/sites/thies/voices").get_data(as_text=True))
    assert "Le mot «\u00a0ticket\u00a0»" in listing
    assert 'type="file"' not in listing
    manager_token = csrf_of(manager.get("/admin/sites/thies").get_data(as_text=True))
    assert (
        manager.post(
            "/admin/sites/thies/voices/fr/ticket/remove", data={"csrf_token": manager_token}
        ).status_code
        == 403
    )
    assert (
        manager.post(
            "/admin/sites/thies/voices",
            data={"csrf_token": manager_token, "language": "fr", "key": "chime",
                  "recording": (io.BytesIO(sound), "c.ogg")},
            content_type="multipart/form-data",
        ).status_code
        == 403
    )  # fmt: skip

    removed = admin.post("/admin/sites/thies/voices/fr/ticket/remove", data={"csrf_token": token})
    assert "Enregistrement retiré" in _follow(admin, removed)
    with app.app_context():
        assert db.session.query(VoiceClip).count() == 0
    assert _entries(app, "voice_clip")[-1].action == "delete"


def test_the_new_pages_in_english(app, office, manager):
    manager.get("/lang/en")
    kiosk_id = _device_id(app, "kiosk")
    for path, text in (
        ("/admin/sites/thies", "Message on the waiting-room displays"),
        ("/admin/sites/thies/hours", "Open at any time: no opening hours"),
        ("/admin/sites/thies/services/CNI", "Citizens may book an appointment"),
        (f"/admin/sites/thies/devices/{kiosk_id}", "Ticket printer"),
        ("/admin/sites/thies/appointments", "No service of this office takes appointments"),
        ("/admin/sites/thies/sms", "The installation's default"),
        ("/admin/sites/thies/voices", "Voices of the calls"),
    ):
        page = manager.get(path)
        assert page.status_code == 200, path
        assert text in html.unescape(page.get_data(as_text=True)), path
