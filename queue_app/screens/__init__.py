"""Waiting-room and counter screens: what they show, their configuration, recorded voices.

Plain functions over a SQLAlchemy session (the caller commits), as in
``queue_app.queue``. The pages themselves live in the top-level ``display/``
folder (installed as the ``queue_app.display`` package) and are served by
``queue_app.web.display``.
"""

from ..realtime.screens import (
    counter_state,
    device_service_ids,
    display_board,
    filtered_displays,
    site_version,
)
from ..realtime.versions import server_version
from .clips import (
    CLIP_KEYS,
    clip_manifest,
    delete_clip,
    get_clip,
    put_clip,
)
from .config import set_device_services, set_display_message

__all__ = [
    "CLIP_KEYS",
    "clip_manifest",
    "counter_state",
    "delete_clip",
    "device_service_ids",
    "display_board",
    "filtered_displays",
    "get_clip",
    "put_clip",
    "server_version",
    "set_device_services",
    "set_display_message",
    "site_version",
]
