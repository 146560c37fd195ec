"""Detached copies of loaded rows, and the session's own object for one (no Flask).

The per-process cache of set-up rows (hotcache.py) keeps snapshots; the
domain puts one back into its session with :func:`attach`.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import inspect
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state

T = TypeVar("T")

REFS_KEY = "queue_app.hot_cache_refs"

# Attributes whose change does not matter to what is cached (written often).
IGNORED_ATTRIBUTES = frozenset(
    {"last_seen_at", "printer_status", "last_login_at", "avg_service_seconds", "state_changed_at"}
)


def snapshot(obj: T) -> T:
    """A detached copy of a loaded object (and of its loaded relationships), for the cache."""
    scratch = Session()
    try:
        copy = scratch.merge(obj, load=False)
        scratch.expunge_all()
    finally:
        scratch.close()
    return copy


def attach(session: Session, obj: T) -> T:
    """The session's own object for a cached snapshot (no statement).

    Its often-written attributes (IGNORED_ATTRIBUTES: they drop no cache) are
    expired, so that reading one loads it from the database, fresh.
    """
    merged = session.merge(obj, load=False)
    volatile = _volatile(type(merged))
    if volatile:
        session.expire(merged, volatile)
    # The identity map holds objects weakly: kept here, a many-to-one to this
    # object (``ticket.service``) finds it there for the session's life.
    session.info.setdefault(REFS_KEY, {})[instance_state(merged).identity_key] = merged
    return merged


_VOLATILE: dict[type, list[str]] = {}


def _volatile(cls: type) -> list[str]:
    found = _VOLATILE.get(cls)
    if found is None:
        keys: list[str] = list(inspect(cls).attrs.keys())
        found = _VOLATILE[cls] = [key for key in keys if key in IGNORED_ATTRIBUTES]
    return found
