"""What a display shows, and the version that orders it across server processes.

A version is read from the append-only ``ticket_events`` table in the same
read as the state it describes, so every server process numbers the same
state alike without a lock: the latest event id of the site, times
``WINDOW + 1``, plus how many of the site's events lie in the last ``WINDOW``
ids. The count makes the number grow even when a transaction holding a lower
id commits after one holding a higher id (PostgreSQL hands out ids at insert,
not at commit). A screen keeps the state of the highest version it has seen
and drops an older one arriving late.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from ..models import (
    ACTIVE_STATUSES,
    Counter,
    Device,
    DeviceKind,
    Service,
    Site,
    Ticket,
    TicketEvent,
    device_services,
)
from ..queue.board import board
from ..queue.publish import iso

WINDOW = 1000

_LATEST = (
    select(func.max(TicketEvent.id))
    .where(TicketEvent.site_id == bindparam("site_id"))
    .scalar_subquery()
)
_VERSION = select(
    _LATEST,
    select(func.count(TicketEvent.id))
    .where(TicketEvent.site_id == bindparam("site_id"), TicketEvent.id > _LATEST - WINDOW)
    .scalar_subquery(),
)


def site_version(session: Session, site_id: int) -> int:
    """The version of a site's committed state (grows with every committed ticket event)."""
    latest, recent = session.execute(_VERSION, {"site_id": site_id}).one()
    if latest is None:
        return 0
    return int(latest) * (WINDOW + 1) + int(recent or 0)


def device_service_ids(session: Session, device: Device) -> list[int]:
    """The services a device is configured for; empty: all of its site's."""
    return list(
        session.scalars(
            select(device_services.c.service_id).where(device_services.c.device_id == device.id)
        )
    )


def filtered_displays(session: Session, site_id: int) -> dict[int, frozenset[str]]:
    """The site's active displays configured for some services only: device id → codes.

    Read through the per-process cache of set-up rows (hotcache.py): every call
    asks for it.
    """
    from ..infra.hotcache import cached

    return cached(("displays", site_id), lambda: _filtered_displays(session, site_id))


def _filtered_displays(session: Session, site_id: int) -> dict[int, frozenset[str]]:
    rows = session.execute(
        select(Device.id, Service.code)
        .join(device_services, device_services.c.device_id == Device.id)
        .join(Service, Service.id == device_services.c.service_id)
        .where(
            Device.site_id == site_id,
            Device.kind == DeviceKind.DISPLAY,
            Device.revoked_at.is_(None),
        )
    ).all()
    found: dict[int, set[str]] = {}
    for device_id, code in rows:
        found.setdefault(device_id, set()).add(code)
    return {device_id: frozenset(codes) for device_id, codes in found.items()}


def display_board(
    session: Session,
    site: Site,
    *,
    limit: int,
    service_codes: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The board with the message line and its version, for some services or all."""
    # The version first: the state read after it is at least that recent.
    version = site_version(session, site.id)
    codes = set(service_codes) if service_codes else None
    data = board(session, site, limit=limit, service_codes=codes)
    data["version"] = version
    data["message"] = site.display_message
    data["services"] = [
        {"code": s.code, "name": s.name, "prefix": s.prefix}
        for s in site.services
        if s.is_active and (codes is None or s.code in codes)
    ]
    return data


def counter_state(
    session: Session, counter: Counter, *, version: int | None = None
) -> dict[str, Any]:
    """What the screen above a counter shows: the ticket called or served there, if any."""
    if version is None:
        version = site_version(session, counter.site_id)
    row = session.execute(
        select(Ticket.label, Ticket.status, Ticket.called_at, Service.code)
        .join(Service, Service.id == Ticket.service_id)
        .where(Ticket.counter_id == counter.id, Ticket.status.in_(ACTIVE_STATUSES))
        .order_by(Ticket.called_at.desc())
        .limit(1)
    ).first()
    label, status, called_at, code = row if row is not None else (None, None, None, None)
    return {
        "counter_id": counter.id,
        "counter": counter.name,
        "state": counter.state.value,
        "label": label,
        "status": status.value if status is not None else None,
        "service": code,
        "called_at": iso(called_at),
        "version": version,
    }
