"""A citizen who reaches a missing page (a mistyped booking or tracking address) is offered
the office's booking page, never "Back to the console" of the agents."""

from __future__ import annotations

import pytest

from .conftest import build_office

CONSOLE = "Retour à la console"


@pytest.mark.parametrize(
    "path",
    [
        "/book/thies/ZZZZZZ",
        "/book/nosuch",
        "/sites/thies/commitments/x",
        "/sites/nosuch/complaints",
    ],
)
def test_a_citizens_missing_page_offers_the_booking_page(app, office, path):
    response = app.test_client().get(path)
    assert response.status_code == 404
    assert CONSOLE not in response.text
    assert "/agent" not in response.text
    assert 'href="/book/thies"' in response.text
    assert "Prendre rendez-vous à Espace Sénégal Services thies" in response.text


def test_a_missing_ticket_offers_no_console(app, office):
    response = app.test_client().get("/t/NOSUCH")
    assert response.status_code == 404
    assert CONSOLE not in response.text


def test_with_several_offices_an_unknown_office_asks_to_check_the_address(app, office):
    build_office(app, slug="dakar")
    response = app.test_client().get("/book/nosuch")
    assert response.status_code == 404
    assert CONSOLE not in response.text
    assert "Vérifiez l'adresse imprimée sur votre ticket" in response.text
    named = app.test_client().get("/book/dakar/ZZZZZZ")
    assert 'href="/book/dakar"' in named.text


def test_staff_pages_keep_the_way_back_to_the_console(app, office):
    response = app.test_client().get("/admin/nosuch")
    assert response.status_code in (302, 404)
    response = app.test_client().get("/agent/nosuch")
    if response.status_code == 404:
        assert CONSOLE in response.text
