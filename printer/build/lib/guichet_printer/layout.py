"""A queue ticket as ESC/POS bytes, laid out with python-escpos.

The code page is chosen explicitly (``ESC t n``, WPC1252 by default, which
Epson printers and their clones share) instead of python-escpos's automatic
switching, so French accents print the same on every printer. A line that the
code page cannot show (Wolof ``ŋ``, Arabic script…) is drawn with Pillow and
sent as a raster image: it is never printed as ``?``.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .raster import text_image, to_raster_command

# Paper width → (characters per line in font A, printable dots at 203 dpi).
PAPER = {80: (48, 576), 58: (32, 384)}

# ESC/POS code page number of each supported encoding on Epson printers and clones.
CODEPAGES = {"cp437": 0, "cp850": 2, "cp1252": 16, "cp858": 19}

QR_MODES = ("native", "image", "none")

# Typographic characters a code page may lack, and what to print instead.
_PLAIN = {
    "\u2014": "-",
    "\u2013": "-",
    "\u2019": "'",
    "\u2018": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2026": "...",
    "\u00a0": " ",
    "\u202f": " ",
    "\u20ac": "EUR",
}

ESC = b"\x1b"
GS = b"\x1d"

# French defaults; the server passes the site's language, in the words the kiosk
# screen, the tracking page and the SMS use (queue_app/infra/position_text.py).
LABELS_FR: dict[str, str] = {
    "ahead": "{n} personnes avant vous",
    "ahead_one": "1 personne avant vous",
    "next": "Vous êtes le prochain\u00a0!",
    "wait": "Attente estimée\u00a0: environ {n} min",
    "scan": "Suivez votre tour sur votre téléphone",
    "priority": "PRIORITAIRE",
    "reprint": "DUPLICATA",
}


@dataclass(frozen=True)
class LayoutOptions:
    """How a kiosk's printer prints: paper, code page, QR mode, footer."""

    paper_width_mm: int = 80
    codepage: str = "cp1252"
    qr: str = "native"
    qr_size: int = 0  # module size in dots; 0 = chosen from the paper width
    footer: tuple[str, ...] = ()
    cut: str = "PART"

    def __post_init__(self) -> None:
        if self.paper_width_mm not in PAPER:
            raise ValueError(f"paper width must be one of {sorted(PAPER)} mm")
        if self.codepage not in CODEPAGES:
            raise ValueError(f"code page must be one of {sorted(CODEPAGES)}")
        if self.qr not in QR_MODES:
            raise ValueError(f"qr must be one of {QR_MODES}")
        if not 0 <= self.qr_size <= 16:
            raise ValueError("qr_size must be 0 (automatic) to 16")
        if self.cut not in ("PART", "FULL", "NONE"):
            raise ValueError("cut must be PART, FULL or NONE")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> LayoutOptions:
        """Options from a kiosk's JSON settings (unknown keys are refused)."""
        data = dict(data or {})
        footer = data.pop("footer", ())
        if isinstance(footer, str):
            footer = footer.splitlines()
        known = {"paper_width_mm", "codepage", "qr", "qr_size", "cut"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown printer options: {sorted(unknown)}")
        if "codepage" in data:
            data["codepage"] = str(data["codepage"]).lower()
        if "cut" in data:
            data["cut"] = str(data["cut"]).upper()
        return cls(footer=tuple(str(line) for line in footer), **data)

    @property
    def columns(self) -> int:
        return PAPER[self.paper_width_mm][0]

    @property
    def dots(self) -> int:
        return PAPER[self.paper_width_mm][1]


@dataclass(frozen=True)
class TicketData:
    """What a ticket says; times already written in the site's time zone."""

    site_name: str
    service_name: str
    label: str
    issued_at: str
    track_url: str | None = None
    position: int | None = None
    wait_minutes: int | None = None
    priority: bool = False
    reprint: bool = False
    # The service's name in the site's other languages, printed small below.
    other_names: Sequence[str] = ()
    labels: Mapping[str, str] = field(default_factory=lambda: dict(LABELS_FR))


def printable(text: str, codepage: str) -> str | None:
    """The text as the code page can print it (typography made plain), or None."""
    try:
        text.encode(codepage)
        return text
    except UnicodeEncodeError:
        pass
    plain = "".join(_PLAIN.get(char, char) for char in text)
    try:
        plain.encode(codepage)
    except UnicodeEncodeError:
        return None
    return plain


class TicketWriter:
    """Writes ESC/POS onto a python-escpos printer object (a ``Dummy`` collects bytes)."""

    def __init__(self, printer: Any, options: LayoutOptions) -> None:
        self.p = printer
        self.options = options

    def start(self) -> None:
        self.p.hw("INIT")
        # After ESC @ the printer is back on code page 0: choose ours explicitly.
        self.p.charcode(self.options.codepage.upper())

    def line(
        self,
        text: str,
        *,
        align: str = "center",
        bold: bool = False,
        size: int = 1,
        double_height: bool = False,
        wrap: bool = True,
    ) -> None:
        """One paragraph in the code page, or as an image when it cannot be encoded."""
        # ASCII white space only: a no-break space keeps "!" and ":" with their word.
        text = re.sub(r"[ \t\r\n]+", " ", text).strip()
        if not text:
            return
        ascii_text = printable(text, self.options.codepage)
        width_factor = size
        columns = max(self.options.columns // width_factor, 1)
        self.p.set(align=align, bold=bold)
        if ascii_text is None:
            height = 24 * size * (2 if double_height else 1)
            for chunk in textwrap.wrap(text, columns) if wrap else [text]:
                image = text_image(chunk, height, self.options.dots, align=align, bold=bold)
                self.p._raw(to_raster_command(image))
            self.p.set(bold=False)
            return
        if size > 1:
            self.p.set(custom_size=True, width=size, height=size)
        elif double_height:
            self.p.set(double_height=True)
        for chunk in textwrap.wrap(ascii_text, columns) if wrap else [ascii_text]:
            self.p.text(chunk + "\n")
        if size > 1:
            # GS ! 0 as well as ESC ! 0: clones differ in which one a size came from.
            self.p.set(custom_size=True, width=1, height=1)
        if size > 1 or double_height:
            self.p.set(normal_textsize=True)
        if bold:
            self.p.set(bold=False)

    def rule(self) -> None:
        self.p.set(align="left")
        self.p.text("-" * self.options.columns + "\n")

    def qr(self, url: str) -> None:
        if self.options.qr == "none":
            return
        size = self.options.qr_size or (6 if self.options.paper_width_mm == 80 else 5)
        self.p.set(align="center")
        if self.options.qr == "native":
            # GS ( k: the printer draws the code itself (fast, sharp); ESC a centres it.
            self.p.qr(url, size=size, native=True)
            self.p.text("\n")
        else:
            from .raster import qr_image

            self.p._raw(to_raster_command(qr_image(url, size, self.options.dots)))

    def finish(self) -> None:
        self.p.set(align="left", bold=False, normal_textsize=True)
        if self.options.cut == "NONE":
            self.p.ln(4)
        else:
            self.p.cut(mode=self.options.cut)


def position_line(position: int, labels: Mapping[str, str]) -> str:
    """The people ahead as every other place says it: next, one person, n people."""
    if position <= 0:
        return labels["next"]
    if position == 1 and "ahead_one" in labels:
        return labels["ahead_one"]
    return labels["ahead"].format(n=position)


def render_ticket(ticket: TicketData, options: LayoutOptions | None = None) -> bytes:
    """The ESC/POS bytes of a queue ticket."""
    from escpos.printer import Dummy

    options = options or LayoutOptions()
    labels = {**LABELS_FR, **dict(ticket.labels)}
    printer = Dummy(profile="default")
    out = TicketWriter(printer, options)
    out.start()
    out.line(ticket.site_name, bold=True, double_height=True)
    out.line(ticket.service_name, bold=True)
    for name in ticket.other_names:
        out.line(name)
    out.rule()
    if ticket.reprint:
        out.line(labels["reprint"], bold=True)
    big = 4 if len(ticket.label) * 4 <= options.columns else 3
    out.line(ticket.label, bold=True, size=big, wrap=False)
    if ticket.priority:
        out.line(labels["priority"], bold=True)
    out.line(ticket.issued_at)
    if ticket.position is not None:
        out.line(position_line(ticket.position, labels))
    if ticket.wait_minutes is not None and ticket.position:
        out.line(labels["wait"].format(n=ticket.wait_minutes))
    if ticket.track_url:
        printer.ln()
        out.qr(ticket.track_url)
        out.line(labels["scan"])
    if options.footer:
        out.rule()
        for text in options.footer:
            out.line(text)
    out.finish()
    return bytes(printer.output)


def render_text_page(lines: Sequence[str], options: LayoutOptions | None = None) -> bytes:
    """A plain page (printer test page): each line centred, then a cut."""
    from escpos.printer import Dummy

    options = options or LayoutOptions()
    printer = Dummy(profile="default")
    out = TicketWriter(printer, options)
    out.start()
    for text in lines:
        out.line(text)
    out.finish()
    return bytes(printer.output)
