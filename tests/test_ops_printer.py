"""Printer health: the real-time status (DLE EOT 1, 2, 4) read through python-escpos from
the fake printer, a printer that cannot print is sent nothing, idle printers are asked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from guichet_printer.connections import PrinterNotReady, send, status
from sqlalchemy import select

from queue_app.extensions import db
from queue_app.models import Device, DeviceKind, utcnow
from queue_app.ops.printer_health import check_idle_printers, printer_state, stale_server_printers

from .fake_printer import CAUSE_QUERY, FakePrinter


@pytest.fixture
def printer():
    fake = FakePrinter().start()
    yield fake
    fake.stop()


def test_the_status_says_cover_open_paper_low_or_out(printer):
    assert status(printer.url) == {"online": True, "paper": "ok", "cover": "closed", "error": None}
    printer.cover_open = True
    state = status(printer.url)
    assert state["cover"] == "open"
    assert state["online"] is True  # there and answering: stopped by its cover
    assert CAUSE_QUERY in printer.queries
    assert printer_state(state) == "cover_open"
    printer.close_cover()
    printer.set_paper("low")
    assert printer_state(status(printer.url)) == "paper_low"
    printer.set_paper("out")
    assert printer_state(status(printer.url)) == "paper_out"
    printer.stop()
    assert printer_state(status(printer.url, timeout=1)) == "offline"
    assert printer_state(None) == "unknown"


def test_a_printer_that_cannot_print_is_sent_nothing(printer):
    for trouble in ("paper", "cover"):
        if trouble == "paper":
            printer.set_paper("out")
        else:
            printer.set_paper("ok")
            printer.cover_open = True
        with pytest.raises(PrinterNotReady) as raised:
            send(printer.url, b"ticket", query_paper=1.0, check_first=True)
        assert raised.value.status["online"] is True
        assert printer.buffered == []
        assert printer.prints == []
    printer.close_cover()
    report = send(printer.url, b"ticket", query_paper=1.0, check_first=True)
    assert report["paper"] == "ok"
    assert printer.wait_for(1)
    assert printer.prints == [b"ticket"]


def test_idle_server_printers_are_asked_every_few_minutes(app, office, printer):
    with app.app_context():
        kiosk = db.session.scalar(select(Device).where(Device.kind == DeviceKind.KIOSK))
        kiosk.printer = printer.url
        db.session.commit()
        now = utcnow()
        assert [d.id for d in stale_server_printers(db.session, now, app.config)] == [kiosk.id]
        printer.set_paper("low")
        assert check_idle_printers() == 1
        db.session.commit()
        db.session.refresh(kiosk)
        assert printer_state(kiosk.printer_status) == "paper_low"
        # Asked just now: not again before PRINTER_STATUS_IDLE_SECONDS.
        assert stale_server_printers(db.session, utcnow(), app.config) == []
        idle = timedelta(seconds=app.config["PRINTER_STATUS_IDLE_SECONDS"] + 1)
        assert len(stale_server_printers(db.session, utcnow() + idle, app.config)) == 1
