"""Displays: the message line, a device's services, and the offices' recorded voices."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from marshmallow import fields, validate

from ..extensions import db
from ..models import Device, Role
from ..queue import errors
from ..queue.sites import get_service, get_site
from ..screens import (
    clip_manifest,
    delete_clip,
    get_clip,
    put_clip,
    set_device_services,
    set_display_message,
)
from ..screens.builtin import builtin_voices
from ..screens.clips import CLIP_KEY_RE, LANGUAGE_RE
from ..security.permissions import require_board_reader, require_site_manager, require_user
from . import ApiBlueprint, principal
from .schemas import DeviceSchema, StrictSchema, Text
from .serialize import device_json

blp = ApiBlueprint("api_screens", __name__, description="Waiting-room displays")


class DisplayMessageSchema(StrictSchema):
    message = Text(
        required=True,
        allow_none=True,
        validate=validate.Length(max=280),
        metadata={"description": "one line shown on every display of the site; null clears it"},
    )


class DeviceServicesSchema(StrictSchema):
    services = fields.List(
        Text(validate=validate.Length(min=1, max=32)),
        required=True,
        validate=validate.Length(max=50),
        metadata={"description": "service codes; [] shows every service"},
    )


class VoiceClipSchema(StrictSchema):
    language = fields.String()
    key = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    updated_at = fields.String()


class VoicesSchema(StrictSchema):
    clips = fields.List(fields.Nested(VoiceClipSchema))
    builtin = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "the clip sets shipped with the server, per language"},
    )
    max_bytes = fields.Integer()


@blp.route("/sites/<slug>/display-message")
class DisplayMessageView(MethodView):
    @blp.response(200, DisplayMessageSchema)
    def get(self, slug: str) -> dict:
        """The line shown on the site's displays (staff, or a display of the site)."""
        site = get_site(db.session, slug)
        require_board_reader(principal(), site)
        return {"message": site.display_message}

    @blp.arguments(DisplayMessageSchema)
    @blp.response(200, DisplayMessageSchema)
    @blp.alt_response(400, description="Too long, or control characters")
    @blp.alt_response(403, description="Not a manager of this site")
    def put(self, body: dict, slug: str) -> dict:
        """Set or clear (null or "") the line shown on every display of the site, live."""
        site = get_site(db.session, slug)
        require_site_manager(principal(), site)
        set_display_message(db.session, site, body["message"])
        db.session.commit()
        return {"message": site.display_message}


def _device(slug: str, device_id: int) -> Device:
    site = get_site(db.session, slug)
    require_site_manager(principal(), site)
    device = db.session.get(Device, device_id)
    if device is None or device.site_id != site.id:
        raise errors.NotFound(device=device_id)
    return device


@blp.route("/sites/<slug>/devices/<int:device_id>/services")
class DeviceServicesView(MethodView):
    @blp.response(200, DeviceSchema)
    def get(self, slug: str, device_id: int) -> dict:
        """A device with the services it is configured for ([]: all)."""
        return device_json(_device(slug, device_id))

    @blp.arguments(DeviceServicesSchema)
    @blp.response(200, DeviceSchema)
    @blp.alt_response(404, description="Unknown device or service")
    def put(self, body: dict, slug: str, device_id: int) -> dict:
        """Configure a device for some services only (a second waiting room); [] for all.

        A connected display reloads and then shows, hears and counts only those.
        """
        device = _device(slug, device_id)
        services = [get_service(db.session, device.site, code) for code in body["services"]]
        set_device_services(db.session, device, services)
        db.session.commit()
        return device_json(device)


def _max_bytes() -> int:
    return int(current_app.config["VOICE_CLIP_MAX_BYTES"])


@blp.route("/sites/<slug>/voice-clips")
@blp.response(200, VoicesSchema)
def list_clips(slug: str) -> dict:
    """The office's recordings (without their sound) and the built-in sets (staff, displays)."""
    site = get_site(db.session, slug)
    require_board_reader(principal(), site)
    return {
        "clips": clip_manifest(db.session, site),
        "builtin": {language: sorted(keys) for language, keys in builtin_voices().items()},
        "max_bytes": _max_bytes(),
    }


AUDIO_BODY = {
    "required": True,
    "content": {
        mime: {"schema": {"type": "string", "format": "binary"}}
        for mime in ("audio/ogg", "audio/mpeg", "audio/wav", "audio/webm")
    },
}


CLIP_PARAMETERS = [
    {
        "in": "path",
        "name": "language",
        "required": True,
        "description": "a language code such as fr or wo",
        "schema": {"type": "string", "pattern": LANGUAGE_RE.pattern},
    },
    {
        "in": "path",
        "name": "key",
        "required": True,
        "description": "chime, ticket, counter, letter-a..letter-z, number-0..number-99, "
        "hundred-1..hundred-9 or counter-<id>",
        "schema": {"type": "string", "pattern": CLIP_KEY_RE.pattern},
    },
]


@blp.route("/sites/<slug>/voice-clips/<language>/<key>", parameters=CLIP_PARAMETERS)
class VoiceClipView(MethodView):
    @blp.response(200, content_type="audio/ogg")
    @blp.alt_response(304, description="Not modified (If-None-Match with its ETag)")
    @blp.doc(
        responses={
            200: {
                "description": "The recording, in the format it was uploaded in",
                "content": AUDIO_BODY["content"],
                "headers": {"ETag": {"schema": {"type": "string"}}},
            }
        }
    )
    def get(self, slug: str, language: str, key: str) -> Any:
        """One recording's sound (staff, or a display of the site)."""
        site = get_site(db.session, slug)
        require_board_reader(principal(), site)
        clip = get_clip(db.session, site, language, key)
        assert clip is not None  # noqa: S101 (required=True raises NotFound)
        response = Response(clip.data, mimetype=clip.content_type)
        response.headers["Cache-Control"] = "private, max-age=300"
        response.set_etag(clip.sha256)
        return response.make_conditional(request)

    @blp.doc(requestBody=AUDIO_BODY)
    @blp.response(200, VoiceClipSchema)
    @blp.alt_response(400, description="Not an OGG, MP3, WAV or WebM recording, or a bad key")
    @blp.alt_response(413, description="Larger than VOICE_CLIP_MAX_BYTES")
    def put(self, slug: str, language: str, key: str) -> dict:
        """Upload (or replace) one recording as the raw request body (admins)."""
        site = get_site(db.session, slug)
        user = require_user(principal(), Role.ADMIN)
        request.max_content_length = _max_bytes()
        data = request.get_data(cache=False)
        clip = put_clip(db.session, site, language, key, data, max_bytes=_max_bytes(), user=user)
        db.session.commit()
        return next(
            item
            for item in clip_manifest(db.session, site)
            if item["language"] == clip.language and item["key"] == clip.key
        )

    @blp.response(204)
    def delete(self, slug: str, language: str, key: str) -> None:
        """Remove one recording (admins)."""
        site = get_site(db.session, slug)
        require_user(principal(), Role.ADMIN)
        delete_clip(db.session, site, language, key)
        db.session.commit()
