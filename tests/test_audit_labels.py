"""The change log speaks the page's language: every field, object and actor in words
("rendez-vous ouverts", "Temps d'attente", "Système"), never a code (booking_enabled)."""

from __future__ import annotations

import html

from sqlalchemy import select

from queue_app.extensions import db
from queue_app.models import Service
from queue_app.quality import audit
from queue_app.queue.sites import get_site, update_service
from queue_app.web.admin.audit import FIELD_LABELS

from .quality_helpers import sign_in


def test_every_recorded_field_has_a_label():
    keys = set()
    for spec in audit.SPECS.values():
        keys |= set(spec.fields) | set(spec.derived)
        keys |= {audit.SECRET_NAMES.get(name, name) for name in spec.secrets}
    assert sorted(keys - set(FIELD_LABELS)) == []


def test_the_log_shows_fields_objects_and_actors_in_words(app, api, office):
    week = {"monday": [["08:00", "12:30"], ["14:00", "17:00"]]}
    assert api.put("sites/thies/hours", "manager", json=week).status_code == 200
    settings = {"booking_enabled": True, "slot_minutes": 20, "sms_name": "CNI"}
    assert api.patch("sites/thies/services/CNI", "manager", json=settings).status_code == 200
    commitments = [{"kind": "wait", "threshold": 20, "target_pct": 80}]
    response = api.put("sites/thies/commitments", "manager", json=commitments)
    assert response.status_code == 200, response.get_json()
    with app.app_context():  # a job: no one signed in
        site = get_site(db.session, "thies")
        service = db.session.scalar(select(Service).where(Service.site_id == site.id))
        update_service(db.session, service, {"position": 7})
        db.session.commit()
        audit.set_actor(db.session, None)
    client = app.test_client()
    sign_in(client, office.users["manager"].email)
    page = html.unescape(client.get("/admin/audit").get_data(as_text=True))
    for code in ("booking_enabled", "slot_minutes", "sms_name", ">system<", "Engagement wait"):
        assert code not in page, code
    assert "rendez-vous ouverts\u00a0:" in page
    assert "durée d'un créneau (minutes)" in page
    assert "nom court dans les SMS" in page
    assert "Système" in page
    assert "Engagement</strong> Temps d'attente" in page
    assert "lundi 08:00–12:30, 14:00–17:00" in page
    assert "monday" not in page
