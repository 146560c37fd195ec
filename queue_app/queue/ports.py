"""What the domain needs from outside it, handed over by the application at start.

The domain imports no framework: the per-process cache of set-up rows
(infra/hotcache.py), the reading transaction of a slow check
(infra/database.py) and the kiosk's pictograms (display/icons.py) are
registered here by ``create_app`` (:func:`register`). Without them (the
domain alone, a script) every read goes to the database, a check runs in the
open transaction, and any icon name is accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")


@contextmanager
def _same_transaction(session: Any) -> Iterator[None]:
    yield


def _no_cache(key: Hashable, load: Callable[[], Any]) -> Any:
    return load()


@dataclass
class Ports:
    # cached(key, load): load() through the per-process cache of set-up rows.
    cached: Callable[[Hashable, Callable[[], Any]], Any] = _no_cache
    # read_transaction(session): a block in a reading transaction of its own.
    read_transaction: Callable[[Any], AbstractContextManager[None]] = _same_transaction
    # available_icons(): the names a service's icon may take; None: any.
    available_icons: Callable[[], Iterable[str]] | None = None


_ports = Ports()


def register(
    *,
    cached: Callable[[Hashable, Callable[[], Any]], Any] | None = None,
    read_transaction: Callable[[Any], AbstractContextManager[None]] | None = None,
    available_icons: Callable[[], Iterable[str]] | None = None,
) -> None:
    """Hand the domain what it uses (each left out keeps its current value)."""
    if cached is not None:
        _ports.cached = cached
    if read_transaction is not None:
        _ports.read_transaction = read_transaction
    if available_icons is not None:
        _ports.available_icons = available_icons


def cached(key: Hashable, load: Callable[[], T]) -> T:
    """``load()`` through the cache of set-up rows (dropped when one changes)."""
    found: T = _ports.cached(key, load)
    return found


def read_transaction(session: Session | Any) -> AbstractContextManager[None]:
    """Run a slow read (a password check) in a reading transaction of its own."""
    return _ports.read_transaction(session)


def available_icons() -> tuple[str, ...] | None:
    """The icon names a service may carry; None when any is accepted."""
    icons = _ports.available_icons
    return tuple(icons()) if icons is not None else None
