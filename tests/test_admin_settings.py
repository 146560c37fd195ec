"""The settings of displays, kiosks, booking and devices from the administration pages.

Each form saves, shows the saved value back, and leaves an entry in the change
log with its author; a manager of another office is refused and changes nothing.
"""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from queue_app.extensions import db
from queue_app.models import AuditEntry, Service, Site

from .conftest import Api
from .quality_helpers import post_form, sign_in

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
    assert "/static/kiosk/icons/passport.svg" in page
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
