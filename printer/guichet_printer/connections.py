"""Printers named by URL, opened with python-escpos's connection classes.

``tcp://10.0.0.5:9100`` (Network), ``usb://04b8:0202`` (Usb, hex vendor and
product ids as ``lsusb`` shows them; ``?in_ep=0x82&out_ep=0x01`` when needed),
``serial:///dev/ttyUSB0?baudrate=19200`` (Serial), ``file:///dev/usb/lp0``
(File: a device node or a plain file), ``dummy:`` (keeps the bytes in memory).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)

SCHEMES = ("tcp", "usb", "serial", "file", "dummy")
DEFAULT_TIMEOUT = 5.0


class PrinterError(Exception):
    """The printer could not be reached or refused the bytes."""


class PrinterNotReady(PrinterError):
    """The printer answers but cannot print now (paper out, cover open, offline): nothing sent.

    ``status`` is what it said (:func:`status`'s shape).
    """

    def __init__(self, message: str, status: dict[str, Any]) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class PrinterUrl:
    scheme: str
    target: str
    params: dict[str, str]
    raw: str

    def __str__(self) -> str:
        return self.raw


def parse_printer_url(url: str) -> PrinterUrl:
    """Check and split a printer URL; ValueError says what is wrong."""
    url = (url or "").strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ValueError(f"printer URL scheme must be one of {', '.join(SCHEMES)}: {url!r}")
    params = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    if scheme == "tcp":
        if not parts.hostname:
            raise ValueError("tcp printer URL needs a host: tcp://10.0.0.5:9100")
        try:
            port = parts.port or 9100
        except ValueError as exc:
            raise ValueError(f"bad port in {url!r}") from exc
        target = f"{parts.hostname}:{port}"
    elif scheme == "usb":
        ids = (parts.netloc or parts.path.lstrip("/")).split(":")
        if len(ids) != 2:
            raise ValueError("usb printer URL is usb://VENDOR:PRODUCT in hex, e.g. usb://04b8:0202")
        try:
            vendor, product = (int(value, 16) for value in ids)
        except ValueError as exc:
            raise ValueError("usb ids are hexadecimal, e.g. usb://04b8:0202") from exc
        target = f"{vendor:04x}:{product:04x}"
    elif scheme in ("serial", "file"):
        target = unquote(parts.path)
        if not target.startswith("/") and not (len(target) > 2 and target[1] == ":"):
            raise ValueError(f"{scheme} printer URL needs an absolute path: {scheme}:///dev/…")
    else:
        target = ""
    for key in params:
        if key not in ("baudrate", "timeout", "in_ep", "out_ep", "profile"):
            raise ValueError(f"unknown printer URL parameter {key!r}")
    return PrinterUrl(scheme, target, params, url)


# Bytes "printed" on dummy: printers, per URL, for tests and demos.
_dummy_output: dict[str, list[bytes]] = {}
_dummy_lock = threading.Lock()


def dummy_output(url: str = "dummy:") -> list[bytes]:
    """What was sent to a ``dummy:`` printer in this process (one entry per print)."""
    with _dummy_lock:
        return list(_dummy_output.get(url, []))


def open_printer(url: str | PrinterUrl, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """A connected python-escpos printer object for the URL (close it after use)."""
    parsed = url if isinstance(url, PrinterUrl) else parse_printer_url(url)
    timeout = float(parsed.params.get("timeout", timeout))
    profile = parsed.params.get("profile")
    kwargs: dict[str, Any] = {"profile": profile} if profile else {}
    from escpos import exceptions, printer

    try:
        if parsed.scheme == "tcp":
            host, port = parsed.target.rsplit(":", 1)
            device: Any = printer.Network(host, int(port), timeout=timeout, **kwargs)
            # Connected here rather than by Network.open, which leaks the socket on failure.
            device.device = socket.create_connection((host, int(port)), timeout=timeout)
            return device
        elif parsed.scheme == "usb":
            vendor, product = (int(part, 16) for part in parsed.target.split(":"))
            usb_kwargs: dict[str, Any] = {"timeout": int(timeout * 1000)}
            for key in ("in_ep", "out_ep"):
                if key in parsed.params:
                    usb_kwargs[key] = int(parsed.params[key], 0)
            device = printer.Usb(vendor, product, **usb_kwargs, **kwargs)
        elif parsed.scheme == "serial":
            device = printer.Serial(
                parsed.target,
                baudrate=int(parsed.params.get("baudrate", 9600)),
                timeout=timeout,
                **kwargs,
            )
        elif parsed.scheme == "file":
            device = printer.File(parsed.target, **kwargs)
        else:
            device = printer.Dummy(**kwargs)
        device.open()
    except (exceptions.Error, OSError, ImportError, ValueError) as exc:
        raise PrinterError(
            f"{parsed.scheme} printer {parsed.target or ''} unreachable: {exc}"
        ) from exc
    if getattr(device, "_device", True) is None:
        raise PrinterError(f"{parsed.scheme} printer {parsed.target} not found")
    return device


def send(
    url: str | PrinterUrl,
    payload: bytes,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    query_paper: float = 0.0,
    check_first: bool = False,
) -> dict[str, Any] | None:
    """Send ESC/POS bytes to the printer; PrinterError when they could not all be sent.

    With ``query_paper`` (seconds), a network printer is then asked for its paper
    sensor on the same connection: a printer out of paper still takes the bytes
    into its buffer, and staff must know. Returns that status, or None.

    With ``check_first``, a network printer is asked first (DLE EOT 1, 2, 4 on the
    same connection): when it says it cannot print (paper out, cover open,
    offline), nothing is sent and :class:`PrinterNotReady` is raised, so the job
    waits in the spool instead of in the printer's buffer, and prints once.
    """
    parsed = url if isinstance(url, PrinterUrl) else parse_printer_url(url)
    if parsed.scheme == "dummy":
        with _dummy_lock:
            _dummy_output.setdefault(parsed.raw, []).append(bytes(payload))
        return None
    if parsed.scheme == "file":
        # Appended: a device node takes it as a write, a plain file keeps every ticket.
        try:
            with open(parsed.target, "ab") as handle:
                handle.write(payload)
        except OSError as exc:
            raise PrinterError(f"file printer {parsed.target}: {exc}") from exc
        return None
    device = open_printer(parsed, timeout)
    if check_first and parsed.scheme == "tcp":
        before = {"online": True, "paper": None, "cover": None, "error": None}
        with contextlib.suppress(Exception):
            device.device.settimeout(query_paper or 0.5)
            _read_status(device, before)
        with contextlib.suppress(Exception):
            device.device.settimeout(timeout)
        problem = not_ready(before)
        if problem:
            with contextlib.suppress(Exception):
                device.close()
            raise PrinterNotReady(f"printer {parsed.target}: {problem}", before)
    try:
        device._raw(payload)
        if hasattr(device, "flush"):
            device.flush()
    except Exception as exc:
        with contextlib.suppress(Exception):
            device.close()
        raise PrinterError(f"{parsed.scheme} printer {parsed.target}: {exc}") from exc
    result: dict[str, Any] | None = None
    if query_paper and parsed.scheme == "tcp":
        result = {"online": True, "paper": None, "cover": None, "error": None}
        with contextlib.suppress(Exception):
            device.device.settimeout(query_paper)
            _read_status(device, result)
    with contextlib.suppress(Exception):
        device.close()
    return result


# DLE EOT n: real-time status. n=1 printer status, n=2 offline cause, n=4 roll paper sensor.
_ONLINE_QUERY = b"\x10\x04\x01"
_OFFLINE_CAUSE_QUERY = b"\x10\x04\x02"
_PAPER_QUERY = b"\x10\x04\x04"


def not_ready(report: dict[str, Any]) -> str | None:
    """Why a printer that answered cannot print now ("paper out"…), else None."""
    if report.get("paper") == "out":
        return "paper out"
    if report.get("cover") == "open":
        return "cover open"
    if report.get("online") is False:
        return "offline"
    return None


def _read_status(device: Any, result: dict[str, Any]) -> None:
    """Fill ``online``, ``cover`` and ``paper`` from the printer's real-time answers.

    Through python-escpos's ``query_status`` (DLE EOT n). A printer that does not
    answer one query leaves its field as it was.
    """
    online = device.query_status(_ONLINE_QUERY)
    if online:
        result["cover"] = "closed"
        # Bit 3 set: the printer stopped (cover open, paper out, an error).
        if online[0] & 0x08:
            cause = device.query_status(_OFFLINE_CAUSE_QUERY)
            # Bit 2: cover open; bit 5: stopped at the paper's end. Either way the
            # printer is there and answering ("online"); another cause is an error.
            result["cover"] = "open" if cause and cause[0] & 0x04 else "closed"
            result["online"] = bool(cause and cause[0] & 0x24)
    result["paper"] = _paper(device)


def status(url: str | PrinterUrl, timeout: float = 2.0) -> dict[str, Any]:
    """Ask the printer how it is: ``{"online", "paper": "ok"|"low"|"out"|None, "cover", "error"}``.

    ``cover`` is "open", "closed" or None (not asked or no answer).

    ``paper`` is None when the printer does not answer real-time status queries
    (files, many USB and serial set-ups); ``online`` then means "reachable".
    """
    try:
        parsed = url if isinstance(url, PrinterUrl) else parse_printer_url(url)
    except ValueError as exc:
        return {"online": False, "paper": None, "error": str(exc)}
    if parsed.scheme == "dummy":
        return {"online": True, "paper": "ok", "cover": "closed", "error": None}
    try:
        device = open_printer(parsed, timeout)
    except PrinterError as exc:
        return {"online": False, "paper": None, "cover": None, "error": str(exc)}
    result: dict[str, Any] = {"online": True, "paper": None, "cover": None, "error": None}
    try:
        if parsed.scheme == "file":
            return result
        _read_status(device, result)
    except Exception as exc:
        # Reachable, but no answer to status queries: nothing more is known.
        log.debug("printer %s gave no status: %s", parsed.raw, exc)
    finally:
        with contextlib.suppress(Exception):
            device.close()
    return result


def _paper(device: Any) -> str | None:
    """The roll paper sensor (DLE EOT 4): "ok", "low" (near end), "out", or None."""
    answer = device.query_status(_PAPER_QUERY)
    if not answer:
        return None
    if answer[0] & 0x60 == 0x60:
        return "out"
    if answer[0] & 0x0C == 0x0C:
        return "low"
    return "ok"
