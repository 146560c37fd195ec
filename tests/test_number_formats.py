"""Numbers as the page's language writes them: "4,5 / 5" and "1,9 min" in French, never a
decimal point; "4.5" in English. Through Babel's formatters (CSV stays machine-readable)."""

from __future__ import annotations

import html
import re

from flask_babel import force_locale

from queue_app.web.helpers import fixed, number, percent

from .quality_helpers import sign_in


def test_the_filters_follow_the_language(app):
    with app.test_request_context(), force_locale("fr"):
        assert number(1.9) == "1,9"
        assert number(12.0) == "12"
        assert number(1234) == "1\u202f234"
        assert fixed(4.0) == "4,0"
        assert percent(80.4) in ("80\u00a0%", "80\u202f%")
        assert number(None) == "—"
    with app.test_request_context(), force_locale("en"):
        assert number(1.9) == "1.9"
        assert fixed(4.0) == "4.0"
        assert percent(80.4) == "80%"


def _rate_two_tickets(api):
    api.open_counter("g1")
    for rating in (4, 5):
        ticket = api.issue("CNI")
        assert api.call_next("g1").status_code == 200
        assert api.post(f"tickets/{ticket['id']}/finish", "agent").status_code == 200
        response = api.post(f"tickets/{ticket['id']}/feedback", "tablet", json={"rating": rating})
        assert response.status_code == 201


def test_the_dashboard_writes_decimals_with_a_comma_in_french(app, api, office):
    _rate_two_tickets(api)
    client = app.test_client()
    sign_in(client, office.users["manager"].email)
    french = html.unescape(client.get("/admin/").get_data(as_text=True))
    assert "4,5 <small>/ 5</small>" in french
    assert not re.search(r"\b\d+\.\d+ *(<small>)?(/ ?5|min)", french), "a decimal point"
    english = html.unescape(client.get("/admin/?lang=en").get_data(as_text=True))
    assert "4.5 <small>/ 5</small>" in english
