"""What a display shows: its board, the screen above a counter, its filtered services.

Each state carries the site's version (versions.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    ACTIVE_STATUSES,
    Counter,
    Device,
    DeviceKind,
    Service,
    Site,
    Ticket,
    device_services,
)
from .board import board
from .publish import iso
from .versions import site_version

__all__ = [
    "counter_state",
    "device_service_ids",
    "display_board",
    "filtered_displays",
    "site_version",
]


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
