"""The kiosk's service pictograms: SVG files shipped in display/static/kiosk/icons/."""

from __future__ import annotations

from functools import lru_cache

from . import STATIC

ICON_DIR = STATIC / "kiosk" / "icons"
DEFAULT_ICON = "document"


@lru_cache(maxsize=1)
def available_icons() -> tuple[str, ...]:
    """Names a service may carry as its ``icon`` (file names without .svg)."""
    return tuple(sorted(path.stem for path in ICON_DIR.glob("*.svg")))
