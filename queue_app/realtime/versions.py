"""The versions a screen compares: its site's state, and the server's display code.

A site's version is read from the append-only ``ticket_events`` table in the same
read as the state it describes, so every server process numbers the same
state alike without a lock: the latest event id of the site, times
``WINDOW + 1``, plus how many of the site's events lie in the last ``WINDOW``
ids. The count makes the number grow even when a transaction holding a lower
id commits after one holding a higher id (PostgreSQL hands out ids at insert,
not at commit). A screen keeps the state of the highest version it has seen
and drops an older one arriving late.

The server's version changes with the display's files: a display reloads then.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from functools import cache
from importlib import metadata, resources
from importlib.resources.abc import Traversable

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from ..models import TicketEvent

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


@cache
def server_version() -> str:
    """The package version and a digest of the display's files (same for every process)."""
    try:
        package = metadata.version("guichet")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        package = "0"
    digest = hashlib.sha256()
    root = resources.files("queue_app.display")
    for folder in ("templates", "static"):
        for item in _walk(root / folder):
            digest.update(item.name.encode())
            if not item.name.endswith((".ogg", ".wav", ".mp3")):
                digest.update(item.read_bytes())
    return f"{package}+{digest.hexdigest()[:12]}"


def _walk(node: Traversable) -> Iterator[Traversable]:
    if not node.is_dir():
        return
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.is_dir():
            yield from _walk(child)
        else:
            yield child
