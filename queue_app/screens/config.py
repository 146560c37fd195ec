"""What a manager configures for the displays: the message line and a device's services."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from ..models import Device, DeviceKind, Service, Site
from ..queue import errors
from ..realtime import events
from ..realtime.screens import filtered_displays

log = logging.getLogger(__name__)

MESSAGE_MAX_LENGTH = 280

DISPLAY_MESSAGE = "display_message"
DISPLAY_CONFIG = "display_config"


def set_display_message(session: Session, site: Site, message: str | None) -> Site:
    """Set (or clear, with None or blank) the line shown on the site's displays.

    Queues ``display_message`` to every display of the site, for after commit.
    """
    text = " ".join((message or "").split())
    if len(text) > MESSAGE_MAX_LENGTH:
        raise errors.InvalidInput(field="message", max_length=MESSAGE_MAX_LENGTH)
    site.display_message = text or None
    payload = {"message": site.display_message}
    events.queue(session, DISPLAY_MESSAGE, events.site_room(site.slug), payload)
    for device_id in filtered_displays(session, site.id):
        events.queue(session, DISPLAY_MESSAGE, events.display_room(device_id), payload)
    log.info("display message of %s %s", site.slug, "set" if text else "cleared")
    return site


def set_device_services(session: Session, device: Device, services: Sequence[Service]) -> Device:
    """Configure a device for some services of its site only (empty: all of them).

    Queues ``display_config`` so that a connected display reloads with its new
    configuration (it joins other rooms).
    """
    for service in services:
        if service.site_id != device.site_id:
            raise errors.NotFound(service=service.code)
    was_filtered = bool(device.services)
    device.services = list(dict.fromkeys(services))
    session.flush()
    if device.kind == DeviceKind.DISPLAY:
        payload = {"device": device.id}
        # Where it is connected now: its own room when filtered, else the site's.
        room = (
            events.display_room(device.id) if was_filtered else events.site_room(device.site.slug)
        )
        events.queue(session, DISPLAY_CONFIG, room, payload)
    return device
