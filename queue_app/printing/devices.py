"""A kiosk's printer settings: URL, layout options, the print agent that prints for it;
and asking a printer the server drives how it is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from guichet_printer.connections import parse_printer_url
from guichet_printer.layout import LayoutOptions
from sqlalchemy.orm import Session

from ..infra.database import writable
from ..models import Device, DeviceKind, utcnow
from ..queue import errors
from . import spool


def configure_printer(session: Session, device: Device, changes: Mapping[str, Any]) -> Device:
    """Set ``printer`` (URL or None), ``printer_options`` and ``print_agent`` (device id or None).

    Only kiosks print tickets (another device takes these settings as null only:
    no printer); a print agent must be a printer device of the same site.
    """
    touched = {"printer", "printer_options", "print_agent"} & set(changes)
    if device.kind != DeviceKind.KIOSK:
        given = sorted(name for name in touched if changes[name] is not None)
        if given:
            raise errors.InvalidInput(field=given[0], reason="only kiosks have a printer")
        return device
    if "printer" in changes:
        url = (changes["printer"] or "").strip() or None
        if url is not None:
            try:
                parse_printer_url(url)
            except ValueError as exc:
                raise errors.InvalidInput(field="printer", reason=str(exc)) from exc
        if url != device.printer:
            device.printer_status = None
        device.printer = url
    if "printer_options" in changes:
        options = dict(changes["printer_options"] or {})
        try:
            LayoutOptions.from_mapping(options)
        except (TypeError, ValueError) as exc:
            raise errors.InvalidInput(field="printer_options", reason=str(exc)) from exc
        device.printer_options = options
    if "print_agent" in changes:
        agent_id = changes["print_agent"]
        if agent_id is None:
            device.print_agent_id = None
        else:
            agent = session.get(Device, int(agent_id))
            if agent is None or agent.site_id != device.site_id:
                raise errors.NotFound(print_agent=agent_id)
            if agent.kind != DeviceKind.PRINTER:
                raise errors.InvalidInput(field="print_agent", reason="not a printer device")
            device.print_agent_id = agent.id
    return device


def refresh_printer_status(session: Session, device: Device, *, timeout: float = 2.0) -> bool:
    """Ask a kiosk's printer how it is now, when the server drives it, and record the answer.

    The printer is asked outside any write (it may take seconds), then the status
    is written in a transaction of its own: callable from a reading request.
    False when the server does not drive this printer (none, or a print agent's).
    """
    if not device.printer or device.print_agent_id:
        return False
    from guichet_printer.connections import status

    found = status(device.printer, timeout=timeout)
    with writable(session):
        spool.record_status(device, found, utcnow())
        session.commit()
    return True
