"""The version of the server's display code: a display reloads when it changes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from functools import cache
from importlib import metadata, resources
from importlib.resources.abc import Traversable


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
