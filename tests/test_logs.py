"""Log lines: JSON objects with the request's context, no phone number or token in any line;
a database outage is one line when it starts and one when it ends, whatever keeps trying."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import flask
import pytest

from queue_app.ops.logs import make_handler, redact
from queue_app.realtime import events

from .conftest import Api, build_office

PHONE_DIGITS = re.compile(r"\d{8,}")


@pytest.fixture
def app_config():
    return {"LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"}


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Everything logged during the test, as the process's JSON handler writes it."""
    stream = io.StringIO()
    handler = make_handler(stream, "json")
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def test_json_lines_carry_the_request_and_no_phone_or_token(app, log_lines):
    office = build_office(app)
    api = Api(app, office)
    phone = "+221 77 123 45 67"
    issued = api.post(
        f"sites/{office.slug}/tickets",
        "kiosk",
        json={"service": "CNI", "phone": phone},
        headers={"X-Request-ID": "kiosk-4-req-17"},
    )
    assert issued.status_code == 201
    assert issued.headers["X-Request-ID"] == "kiosk-4-req-17"
    api.open_counter("g1")
    called = api.call_next("g1")
    assert called.status_code == 200
    display = office.tokens["display"]
    assert app.test_client().get(f"/display/{office.slug}?token={display}").status_code == 200
    refused = app.test_client().get(
        f"/api/v1/sites/{office.slug}/board", headers={"Authorization": "Bearer gd_not-a-token-x"}
    )
    assert refused.status_code == 401
    # A log call that carries the secrets itself (as a careless one would).
    with app.test_request_context(f"/api/v1/sites/{office.slug}/tickets", method="POST"):
        flask.g.request_id = "careless-1"
        logging.getLogger("queue_app.careless").warning(
            "ticket for %s with token %s (Authorization: Bearer %s)",
            "+221771234567",
            office.tokens["kiosk"],
            display,
        )
        try:
            raise ValueError(f"bad row {{'phone': '221771234567', 'token': '{display}'}}")
        except ValueError:
            logging.getLogger("queue_app.careless").exception("while saving")

    text = log_lines.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) >= 3
    for entry in lines:
        assert {"time", "level", "logger", "message", "request_id", "site", "operation"} <= set(
            entry
        )
    for secret in (*office.tokens.values(), "771234567", "77 123 45 67"):
        assert secret not in text
    # No run of digits a phone could be, outside the times and the request ids (random
    # hexadecimal, which may hold eight digits in a row).
    scrubbed = text
    for entry in lines:
        for value in (entry["time"], entry.get("request_id")):
            if value:
                scrubbed = scrubbed.replace(value, "")
    assert not PHONE_DIGITS.search(scrubbed)
    careless = [e for e in lines if e["logger"] == "queue_app.careless"]
    assert careless[0]["site"] == office.slug
    assert careless[0]["operation"]
    assert careless[0]["request_id"] == "careless-1"
    assert "+221*******67" in careless[0]["message"]
    assert "ValueError" in careless[1]["exception"]
    in_request = [e for e in lines if e["request_id"] == "kiosk-4-req-17"]
    assert in_request, "the kiosk's request id is on its lines"
    assert all(e["site"] == office.slug for e in in_request)


def test_redact_keeps_what_is_not_personal():
    kept = "database reachable again after 12 s (1540 request(s) answered 503) at 2026-12-08"
    assert redact(kept) == kept
    assert redact("to +221771234567 and 771234567") == "to +221*******67 and 771****67"
    assert redact("GET /display/x?token=gd_abcdefghijklmn&x=1") == (
        "GET /display/x?token=[redacted]&x=1"
    )
    assert redact("Authorization: Bearer gu_abcdefghijklmnop") == "Authorization: Bearer [redacted]"


# --- outages: one line when it starts, one when it ends ----------------------------------------


@pytest.mark.slow
@pytest.mark.postgres
def test_a_database_outage_is_two_lines_whatever_keeps_trying(tmp_path, log_lines):
    """The print thread and the state publisher retry every few seconds during an outage:
    the process says once that the database is unreachable, once that it is back."""
    from queue_app import create_app
    from queue_app.cli.commands import upgrade_database
    from queue_app.extensions import db
    from queue_app.models import Device

    from .conftest import base_config, dispose
    from .servers import PostgresServer

    server = PostgresServer()
    try:
        server.init().start()
        app = create_app({**base_config(tmp_path, server.url), "LOG_FORMAT": "json"})
        try:
            with app.app_context():
                upgrade_database()
            office = build_office(app)
            with app.app_context():
                kiosk = db.session.query(Device).filter_by(kind="kiosk").one()
                kiosk.printer = f"file://{tmp_path / 'printer.bin'}"
                db.session.commit()
            Api(app, office).issue("CNI")
            printer = app.extensions["queue_app.print_worker"]
            publisher = app.extensions[events.PUBLISHER_KEY]
            printer.stop()
            publisher.stop()
            before = len(log_lines.getvalue().splitlines())

            server.stop()
            for _ in range(6):  # thirty seconds of retries, in rounds
                printer.round()
                publisher.mark({("queue", office.services["CNI"].id)})
                publisher.publish_pending()
            server.start()
            assert printer.round() is not None
            publisher.mark({("queue", office.services["CNI"].id)})
            publisher.publish_pending()
        finally:
            dispose(app)
    finally:
        server.destroy()
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()[before:]]
    database = [e for e in lines if "database" in e["message"].lower()]
    assert [e["level"] for e in database] == ["ERROR", "WARNING"], [e["message"] for e in lines]
    assert "unreachable" in database[0]["message"]
    assert "again" in database[1]["message"]
    assert not [e for e in lines if "exception" in e], "no traceback per retry"


def test_text_lines_say_the_request_too(app, office):
    stream = io.StringIO()
    handler = make_handler(stream, "text")
    logging.getLogger().addHandler(handler)
    try:
        with app.test_request_context(f"/api/v1/sites/{office.slug}/tickets", method="POST"):
            flask.g.request_id = "r-1"
            logging.getLogger("queue_app.careless").warning("phone %s", "+221771234567")
        logging.getLogger("queue_app.careless").warning("outside any request")
    finally:
        logging.getLogger().removeHandler(handler)
    first, second = stream.getvalue().splitlines()
    context = f"[r-1 {office.slug} api_tickets.TicketsView]"
    assert first.endswith(f"WARNING queue_app.careless {context}: phone +221*******67")
    assert second.endswith("WARNING queue_app.careless: outside any request")
