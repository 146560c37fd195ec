"""An office sets its SMS keyword and its services' short SMS names on the admin pages."""

from __future__ import annotations

import html

from sqlalchemy import select

from queue_app.extensions import db
from queue_app.models import Service, Site

from .quality_helpers import post_form, sign_in


def test_the_keyword_and_the_short_name_are_edited_on_the_admin_pages(app, office):
    manager = app.test_client()
    sign_in(manager, office.users["manager"].email)
    page = html.unescape(manager.get("/admin/sites/thies").get_data(as_text=True))
    assert "Mot du bureau dans les SMS" in page
    assert 'placeholder="THIES"' in page  # the keyword used while none is set
    site_form = {
        "name": "Espace Sénégal Services Thiès",
        "timezone": "Africa/Dakar",
        "default_language": "fr",
        "languages": ["en"],
        "sms_keyword": "Thiès-Ville",
    }
    response = post_form(manager, "/admin/sites/thies", site_form)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    service_form = {
        "name_fr": "Carte nationale d'identité", "name_en": "National identity card",
        "prefix": "B", "target_wait_minutes": "20", "avg_service_minutes": "8", "position": "1",
        "is_active": "y", "priority_rule": "first", "slot_minutes": "15", "slot_capacity": "1",
        "booking_days_ahead": "14", "icon": "", "sms_name": "Carte d'identité",
    }  # fmt: skip
    response = post_form(manager, "/admin/sites/thies/services/CNI", service_form)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    with app.app_context():
        assert db.session.scalar(select(Site.sms_keyword)) == "THIESVILLE"
        service = db.session.scalar(select(Service).where(Service.code == "CNI"))
        assert service.sms_name == "Carte d'identité"
    edit = html.unescape(manager.get("/admin/sites/thies/services/CNI").get_data(as_text=True))
    assert 'value="Carte d\'identité"' in edit
