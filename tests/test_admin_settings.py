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
from queue_app.models import AuditEntry, Site

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
