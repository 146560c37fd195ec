"""The voice clip sets shipped with the server (generated at build time by `make voice`)."""

from __future__ import annotations

import json
from functools import cache

from ..display import STATIC

VOICE_FOLDER = STATIC / "voice"


@cache
def builtin_voices() -> dict[str, frozenset[str]]:
    """Language → the keys of its built-in clips (read once per process)."""
    found: dict[str, frozenset[str]] = {}
    if not VOICE_FOLDER.is_dir():
        return found
    for manifest in sorted(VOICE_FOLDER.glob("*/manifest.json")):
        data = json.loads(manifest.read_text(encoding="utf-8"))
        found[str(data["language"])] = frozenset(data["keys"])
    return found
