"""Printer health: a kiosk printer's real-time status, as staff and alerts read it.

Whoever prints asks the printer itself (DLE EOT 1, 2 and 4 through
python-escpos's ``query_status``; guichet_printer.connections): the server's
print thread for the printers it drives, before and after each job; the print
agent for its own printer, reported with each job's answer and every few
minutes when idle (``POST /api/v1/print-agents/me/printer-status``). The
scheduler asks the server-driven printers that printed nothing for
``PRINTER_STATUS_IDLE_SECONDS``. Everything lands in ``Device.printer_status``
(``{"online", "paper", "cover", "error", "at"}``), which :func:`printer_state`
reads as one word.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Device, DeviceKind, utcnow

log = logging.getLogger(__name__)

STATES = ("ok", "paper_low", "paper_out", "cover_open", "offline", "unknown")


def printer_state(status: Mapping[str, Any] | None) -> str:
    """``ok``, ``paper_low``, ``paper_out``, ``cover_open``, ``offline`` or ``unknown``."""
    if not status:
        return "unknown"
    if status.get("online") is False:
        return "offline"
    if status.get("paper") == "out":
        return "paper_out"
    if status.get("cover") == "open":
        return "cover_open"
    if status.get("paper") == "low":
        return "paper_low"
    return "ok"


def record_agent_report(
    session: Session, agent: Device, report: Mapping[str, Any], *, now: datetime | None = None
) -> list[Device]:
    """A print agent's report on its printer: the status of every kiosk it prints for."""
    from ..printing.spool import record_status

    now = now or utcnow()
    kiosks = list(
        session.scalars(
            select(Device).where(
                Device.print_agent_id == agent.id,
                Device.kind == DeviceKind.KIOSK,
                Device.revoked_at.is_(None),
            )
        )
    )
    for kiosk in kiosks:
        record_status(kiosk, dict(report), now)
    return kiosks


def _status_at(device: Device) -> datetime | None:
    at = (device.printer_status or {}).get("at")
    if not at:
        return None
    try:
        return datetime.fromisoformat(str(at).replace("Z", "+00:00"))
    except ValueError:
        return None


def stale_server_printers(
    session: Session, now: datetime, config: Mapping[str, Any]
) -> list[Device]:
    """Kiosks whose printer the server drives, not asked for ``PRINTER_STATUS_IDLE_SECONDS``."""
    idle = timedelta(seconds=float(config["PRINTER_STATUS_IDLE_SECONDS"]))
    kiosks = session.scalars(
        select(Device).where(
            Device.kind == DeviceKind.KIOSK,
            Device.printer.is_not(None),
            Device.print_agent_id.is_(None),
            Device.revoked_at.is_(None),
        )
    )
    found = []
    for kiosk in kiosks:
        at = _status_at(kiosk)
        if at is None or now - at >= idle:
            found.append(kiosk)
    return found


def check_idle_printers() -> int:
    """Scheduler job: ask the idle server-driven printers how they are; returns printers asked."""
    from flask import current_app

    from ..extensions import db
    from ..printing.devices import refresh_printer_status

    session = db.session
    asked = 0
    for kiosk in stale_server_printers(session, utcnow(), current_app.config):
        try:
            asked += refresh_printer_status(session, kiosk, timeout=2.0)
        except Exception:
            log.warning("printer of kiosk %s: status not read", kiosk.id, exc_info=True)
            session.rollback()
    return asked
