"""The printed ticket (guichet_printer, real python-escpos); printers by URL against a fake one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from guichet_printer.connections import (
    PrinterError,
    dummy_output,
    parse_printer_url,
    send,
    status,
)
from guichet_printer.layout import (
    LayoutOptions,
    TicketData,
    group_code,
    printable,
    render_ticket,
)

from .fake_printer import FakePrinter

GOLDEN = Path(__file__).parent / "golden"

TICKET = TicketData(
    site_name="Espace Sénégal Services — Thiès",
    service_name="Carte nationale d'identité",
    label="B-007",
    issued_at="01/12/2026 09:41",
    track_url="http://guichet.example.sn/t/K7QX2MHB",
    track_code="K7QX2MHB",
    position=3,
    wait_minutes=12,
    other_names=["National identity card"],
)
FOOTER = ("Ouvert du lundi au vendredi, 8h-17h", "Tél. 33 951 00 00")

INIT = b"\x1b@"
CP1252 = b"\x1bt\x10"  # ESC t 16: WPC1252
CP858 = b"\x1bt\x13"  # ESC t 19: PC858
QR_MODEL_2 = b"\x1d(k\x04\x001A2\x00"
QR_STORE = b"\x1d(k\x27\x001P0http://guichet.example.sn/t/K7QX2MHB"
QR_PRINT = b"\x1d(k\x03\x001Q0"
PARTIAL_CUT = b"\x1dV\x01"
LABEL_4X4 = b"\x1d!\x33B-007\n"
# Under the QR: the tracking code in 2×2, in fours, and the address to type it into.
CODE_CAPTION = b"Code de suivi\xa0:\n"
CODE_2X2 = b"\x1d!\x11K7QX-2MHB\n"
TYPED_ADDRESS = b"guichet.example.sn/t/K7QX-2MHB\n"
RASTER = b"\x1dv0\x00"


def without_images(data: bytes) -> bytes:
    """The bytes with every GS v 0 raster image cut out (their dots may be any byte)."""
    out = bytearray()
    index = 0
    while (start := data.find(RASTER, index)) != -1:
        out += data[index:start]
        width = int.from_bytes(data[start + 4 : start + 6], "little")
        height = int.from_bytes(data[start + 6 : start + 8], "little")
        index = start + 8 + width * height
    return bytes(out + data[index:])


def test_ticket_bytes_are_the_golden_ones():
    """Init, code page, accented site name, the label in 4×4, native QR, cut: byte for byte."""
    data = render_ticket(TICKET, LayoutOptions(footer=FOOTER))
    golden = GOLDEN / "ticket_80mm_cp1252.bin"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_bytes(data)
    assert data.startswith(INIT + CP1252)
    # é = E9, — = 97, è = E8 in WPC1252: the accents print, no "?".
    assert b"Espace S\xe9n\xe9gal Services \x97 Thi\xe8s\n" in data
    assert b"Carte nationale d'identit\xe9\n" in data
    assert LABEL_4X4 in data
    # The words of the kiosk screen, the tracking page and the SMS (infra/position_text.py);
    # A0: the non-breaking space French puts before a colon.
    assert b"3 personnes avant vous\n" in data
    assert b"Attente estim\xe9e\xa0: environ 12 min\n" in data
    assert QR_MODEL_2 in data
    assert QR_STORE in data
    assert data.index(QR_STORE) < data.index(QR_PRINT)
    assert data.index(QR_PRINT) < data.index(CODE_CAPTION) < data.index(CODE_2X2)
    assert data.index(CODE_2X2) < data.index(TYPED_ADDRESS)
    assert b"T\xe9l. 33 951 00 00\n" in data
    assert data.endswith(PARTIAL_CUT)
    assert b"?" not in data.replace(b"http://", b"")
    assert data == golden.read_bytes()


def test_cp858_prints_the_same_accents_with_its_own_bytes():
    data = render_ticket(TICKET, LayoutOptions(codepage="cp858"))
    assert data.startswith(INIT + CP858)
    # PC858: é = 82, è = 8A; it has no em dash, printed as a plain hyphen.
    assert b"Espace S\x82n\x82gal Services - Thi\x8as\n" in data


def test_text_the_code_page_cannot_show_is_printed_as_an_image_not_as_question_marks():
    wolof = TicketData(
        site_name="Kër Ŋaari Sàndiara",
        service_name="Ŋoŋ xam-xam",
        label="A-001",
        issued_at="01/12/2026 09:41",
    )
    data = render_ticket(wolof, LayoutOptions())
    assert printable("Kër Ŋaari", "cp1252") is None
    assert data.count(RASTER) == 2  # the two Wolof lines, as raster images
    assert b"?" not in without_images(data)
    assert b"\x1d!\x33A-001\n" in data  # the rest is still text


def test_58_mm_paper_wraps_to_32_columns_and_uses_a_smaller_qr():
    options = LayoutOptions(paper_width_mm=58)
    data = render_ticket(TICKET, options)
    assert b"-" * 32 + b"\n" in data
    assert b"-" * 33 not in data
    assert b"\x1d(k\x03\x001C\x05" in data  # QR module size 5


def test_image_qr_for_printers_without_native_qr():
    data = render_ticket(TICKET, LayoutOptions(qr="image"))
    assert QR_STORE not in data
    assert RASTER in data
    assert CODE_2X2 in without_images(data)


def test_the_tracking_code_is_printed_under_the_qr_in_every_mode():
    """A phone that cannot scan: the code and the address, readable, on 58 mm paper too."""
    for options in (LayoutOptions(paper_width_mm=58), LayoutOptions(qr="none")):
        data = without_images(render_ticket(TICKET, options))
        assert CODE_CAPTION in data
        assert CODE_2X2 in data
        assert TYPED_ADDRESS in data
    # Without a QR the words about scanning are not printed.
    assert b"Suivez votre tour" not in render_ticket(TICKET, LayoutOptions(qr="none"))


@pytest.mark.parametrize(
    ("code", "printed"),
    [("K7QX2MHB", "K7QX-2MHB"), ("k7qx 2mhb", "K7QX-2MHB"), ("ABCDEF", "ABCD-EF")],
)
def test_tracking_codes_are_grouped_in_fours(code, printed):
    assert group_code(code) == printed


def test_reprint_and_priority_are_marked():
    data = render_ticket(
        TicketData(**{**TICKET.__dict__, "priority": True, "reprint": True}), LayoutOptions()
    )
    assert b"DUPLICATA\n" in data
    assert b"PRIORITAIRE\n" in data


@pytest.mark.parametrize(
    "options",
    [
        {"paper_width_mm": 76},
        {"codepage": "utf8"},
        {"qr": "barcode"},
        {"colour": "red"},
    ],
)
def test_bad_layout_options_are_refused(options):
    with pytest.raises(ValueError, match=r"."):
        LayoutOptions.from_mapping(options)


@pytest.mark.parametrize(
    ("url", "scheme", "target"),
    [
        ("tcp://10.0.0.5:9100", "tcp", "10.0.0.5:9100"),
        ("tcp://printer.local", "tcp", "printer.local:9100"),
        ("usb://04b8:0202", "usb", "04b8:0202"),
        ("serial:///dev/ttyUSB0?baudrate=19200", "serial", "/dev/ttyUSB0"),
        ("file:///dev/usb/lp0", "file", "/dev/usb/lp0"),
        ("dummy:", "dummy", ""),
    ],
)
def test_printer_urls(url, scheme, target):
    parsed = parse_printer_url(url)
    assert (parsed.scheme, parsed.target) == (scheme, target)


@pytest.mark.parametrize(
    "url", ["http://10.0.0.5", "tcp://", "usb://epson", "file://relative", "tcp://h:1?x=1", ""]
)
def test_bad_printer_urls_are_refused(url):
    with pytest.raises(ValueError, match=r"."):
        parse_printer_url(url)


def test_bytes_reach_a_network_printer_and_its_status_is_read():
    printer = FakePrinter().start()
    try:
        payload = render_ticket(TICKET)
        send(printer.url, payload)
        assert printer.wait_for(1, timeout=5)
        assert printer.prints == [payload]
        assert status(printer.url) == {
            "online": True,
            "paper": "ok",
            "cover": "closed",
            "error": None,
        }
        printer.paper = "out"
        assert status(printer.url)["paper"] == "out"
        # A printer out of paper still takes the bytes; the answer says so.
        assert send(printer.url, payload, query_paper=1.0)["paper"] == "out"
    finally:
        printer.stop()


def test_an_unplugged_printer_raises_and_reports_offline():
    printer = FakePrinter()  # never started: nothing listens on its port
    with pytest.raises(PrinterError):
        send(printer.url, b"\x1b@", timeout=1)
    state = status(printer.url, timeout=1)
    assert state["online"] is False
    assert state["error"]


def test_file_printer_appends_each_ticket(tmp_path):
    path = tmp_path / "lp0"
    send(f"file://{path}", b"one")
    send(f"file://{path}", b"two")
    assert path.read_bytes() == b"onetwo"
    assert status(f"file://{path}")["online"] is True


def test_dummy_printer_keeps_the_bytes():
    send("dummy:layout-test", b"\x1b@hello")
    assert dummy_output("dummy:layout-test") == [b"\x1b@hello"]
