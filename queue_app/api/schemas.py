"""Request and response schemas of /api/v1 (the OpenAPI document is built from them)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..models import DeviceKind, Role


class StrictSchema(Schema):
    """Unknown fields are refused, so a misspelt field is reported, not ignored."""


class Text(fields.String):
    """A string people typed: no control characters (NUL, escapes) and no lone surrogates.

    Use it for every free-text or name field of a request body: such characters
    break printers, displays, SMS and the database drivers. ``multiline=True``
    lets line breaks and tabs through (comments, answers).
    """

    default_error_messages = {
        "control": "Control characters are not allowed.",
        "surrogate": "Not valid Unicode text.",
    }

    def __init__(self, *args: Any, multiline: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_controls = "\n\r\t" if multiline else ""

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        text = super()._deserialize(value, attr, data, **kwargs)
        for char in text:
            code = ord(char)
            if 0xD800 <= code <= 0xDFFF:
                raise self.make_error("surrogate")
            if (code < 0x20 or 0x7F <= code < 0xA0) and char not in self.allowed_controls:
                raise self.make_error("control")
        return text


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"example": "not_found"})
    message = fields.String(required=True)
    details = fields.Dict()


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


# --- auth -------------------------------------------------------------------


class TokenRequestSchema(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=validate.Length(max=1024))


class TokenSchema(Schema):
    token = fields.String(required=True)
    expires_at = fields.String(required=True)


# --- users ------------------------------------------------------------------


class UserCreateSchema(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=validate.Length(min=8, max=1024))
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    sites = fields.List(fields.String(validate=validate.Length(max=64)), load_default=list)
    full_name = fields.String(load_default="", validate=validate.Length(max=200))
    locale = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(["fr", "en"])
    )


class UserPatchSchema(StrictSchema):
    password = fields.String(validate=validate.Length(min=8, max=1024))
    role = fields.String(validate=validate.OneOf([r.value for r in Role]))
    sites = fields.List(fields.String(validate=validate.Length(max=64)))
    full_name = fields.String(validate=validate.Length(max=200))
    locale = fields.String(allow_none=True, validate=validate.OneOf(["fr", "en"]))
    is_active = fields.Boolean()


class UserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    full_name = fields.String()
    role = fields.String()
    sites = fields.List(fields.String())
    is_active = fields.Boolean()


# --- sites, services, counters, devices ------------------------------------


class ServiceSchema(Schema):
    code = fields.String()
    name = fields.String()
    names = fields.Dict(keys=fields.String(), values=fields.String())
    prefix = fields.String()
    target_wait_minutes = fields.Integer()
    avg_service_minutes = fields.Float()
    is_active = fields.Boolean()
    position = fields.Integer()
    priority_rule = fields.String(metadata={"enum": ["first", "none"]})


class CounterAgentSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class CounterSchema(Schema):
    id = fields.Integer()
    site = fields.String()
    name = fields.String()
    state = fields.String(metadata={"enum": ["open", "paused", "closed"]})
    pause_reason = fields.String(allow_none=True)
    services = fields.List(fields.String())
    weights = fields.Dict(keys=fields.String(), values=fields.Integer())
    agent = fields.Nested(CounterAgentSchema, allow_none=True)
    current_ticket = fields.String(allow_none=True, metadata={"description": "label"})


class SiteSchema(Schema):
    id = fields.Integer()
    slug = fields.String()
    name = fields.String()
    timezone = fields.String()
    languages = fields.List(fields.String())
    hours = fields.Dict()
    closures = fields.List(fields.Date())
    services = fields.List(fields.Nested(ServiceSchema))
    counters = fields.List(fields.Nested(CounterSchema))


class SiteCreateSchema(StrictSchema):
    slug = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    timezone = fields.String(required=True, validate=validate.Length(max=64))
    languages = fields.List(fields.String(), validate=validate.Length(min=1, max=10))


class SitePatchSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    timezone = fields.String(validate=validate.Length(max=64))
    languages = fields.List(fields.String(), validate=validate.Length(min=1, max=10))


class ServiceCreateSchema(StrictSchema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(validate=validate.Length(min=1, max=200))
    names = fields.Dict(
        keys=fields.String(), values=fields.String(validate=validate.Length(max=200))
    )
    prefix = fields.String(required=True, validate=validate.Length(min=1, max=3))
    target_wait_minutes = fields.Integer(load_default=20, validate=validate.Range(1, 1440))
    avg_service_minutes = fields.Float(load_default=5, validate=validate.Range(0.25, 240))

    @validates_schema
    def _needs_a_name(self, data: dict, **kwargs: object) -> None:
        if not data.get("name") and not data.get("names"):
            raise ValidationError("Give a name (or names per language).", "name")


class ServicePatchSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    names = fields.Dict(
        keys=fields.String(), values=fields.String(validate=validate.Length(max=200))
    )
    prefix = fields.String(validate=validate.Length(min=1, max=3))
    target_wait_minutes = fields.Integer(validate=validate.Range(1, 1440))
    avg_service_minutes = fields.Float(validate=validate.Range(0.25, 240))
    is_active = fields.Boolean()
    position = fields.Integer(validate=validate.Range(0, 10_000))
    priority_rule = fields.String(validate=validate.OneOf(["first", "none"]))


class CounterCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    services = fields.List(fields.String(), required=True, validate=validate.Length(min=1, max=50))
    weights = fields.Dict(
        keys=fields.String(), values=fields.Integer(validate=validate.Range(1, 100))
    )


class CounterPatchSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=64))
    services = fields.List(fields.String(), validate=validate.Length(min=1, max=50))
    weights = fields.Dict(
        keys=fields.String(), values=fields.Integer(validate=validate.Range(1, 100))
    )


class PauseSchema(StrictSchema):
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class DeviceCreateSchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in DeviceKind]))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))


class DeviceSchema(Schema):
    id = fields.Integer()
    site = fields.String()
    kind = fields.String()
    name = fields.String()
    created_at = fields.String()
    revoked = fields.Boolean()
    token = fields.String(metadata={"description": "only in the answer that creates or rotates it"})


def _day_field() -> fields.List:
    interval = fields.List(
        fields.String(validate=validate.Length(equal=5)), validate=validate.Length(equal=2)
    )
    return fields.List(interval, load_default=list, validate=validate.Length(max=12))


class HoursSchema(StrictSchema):
    """Opening hours by full English weekday name: site-local ["HH:MM", "HH:MM"] intervals.

    A missing or empty day is closed; an empty object means no hours (always open).
    """

    monday = _day_field()
    tuesday = _day_field()
    wednesday = _day_field()
    thursday = _day_field()
    friday = _day_field()
    saturday = _day_field()
    sunday = _day_field()


# --- tickets ----------------------------------------------------------------


class TicketCreateSchema(StrictSchema):
    service = fields.String(required=True, validate=validate.Length(min=1, max=32))
    priority = fields.Boolean(load_default=False)
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))


class TicketCounterSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class TicketSchema(Schema):
    id = fields.Integer()
    code = fields.String(metadata={"description": "public tracking code"})
    number = fields.Integer()
    label = fields.String(metadata={"example": "B-007"})
    service = fields.String(metadata={"description": "service code"})
    service_name = fields.String()
    status = fields.String(
        metadata={"enum": ["waiting", "called", "serving", "done", "no_show", "cancelled"]}
    )
    priority = fields.Boolean()
    source = fields.String()
    position = fields.Integer(allow_none=True, metadata={"description": "people ahead; 0 = next"})
    estimated_wait_minutes = fields.Integer(allow_none=True)
    counter = fields.Nested(TicketCounterSchema, allow_none=True)
    service_day = fields.String()
    issued_at = fields.String()
    called_at = fields.String(allow_none=True)
    started_at = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)
    recall_count = fields.Integer()
    transfer_count = fields.Integer()
    track_url = fields.String()


class TransferSchema(StrictSchema):
    service = fields.String(required=True, validate=validate.Length(min=1, max=32))


class TrackSchema(Schema):
    label = fields.String()
    status = fields.String()
    position = fields.Integer(allow_none=True)
    estimated_wait_minutes = fields.Integer(allow_none=True)
    counter = fields.String(allow_none=True, metadata={"description": "counter name when called"})
    service = fields.String()
    service_name = fields.String()
    site = fields.String()
    site_name = fields.String()


class BoardCallSchema(Schema):
    label = fields.String()
    counter = fields.String()
    counter_id = fields.Integer()
    service = fields.String()
    service_name = fields.String()
    called_at = fields.String()
    status = fields.String()


class BoardSchema(Schema):
    site = fields.String()
    site_name = fields.String()
    calls = fields.List(fields.Nested(BoardCallSchema))
    waiting = fields.Dict(keys=fields.String(), values=fields.Integer())
    generated_at = fields.String()


class HealthSchema(Schema):
    status = fields.String()
