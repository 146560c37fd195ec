"""Request and response schemas of /api/v1 (the OpenAPI document is built from them)."""

from __future__ import annotations

from typing import Any

from guichet_printer.layout import CODEPAGES, PAPER, QR_MODES
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..display.icons import available_icons
from ..models import DeviceKind, Role
from ..queue.days import timezone_names
from .inputs import (
    MULTILINE_PATTERN,
    NON_BLANK_MULTILINE_PATTERN,
    NON_BLANK_PATTERN,
    SINGLE_LINE_PATTERN,
)


class StrictSchema(Schema):
    """Unknown fields are refused, so a misspelt field is reported, not ignored."""


class Text(fields.String):
    """A string people typed: no control characters (NUL, escapes) and no lone surrogates.

    Use it for every free-text or name field of a request body: such characters
    break printers, displays, SMS and the database drivers. ``multiline=True``
    lets line breaks and tabs through (comments, answers); ``blank=False``
    refuses a string of spaces only (names). The rule is in the OpenAPI
    document as a ``pattern`` (unless a ``Regexp`` validator gives its own,
    which must then exclude control characters itself).
    """

    default_error_messages = {
        "control": "Control characters are not allowed.",
        "surrogate": "Not valid Unicode text.",
        "blank": "This field may not be blank.",
    }

    def __init__(
        self, *args: Any, multiline: bool = False, blank: bool = True, **kwargs: Any
    ) -> None:
        validators = kwargs.get("validate")
        validators = validators if isinstance(validators, list | tuple) else [validators]
        if not any(isinstance(v, validate.Regexp) for v in validators):
            if multiline:
                pattern = MULTILINE_PATTERN if blank else NON_BLANK_MULTILINE_PATTERN
            else:
                pattern = SINGLE_LINE_PATTERN if blank else NON_BLANK_PATTERN
            kwargs["metadata"] = {"pattern": pattern, **(kwargs.get("metadata") or {})}
        super().__init__(*args, **kwargs)
        self.allowed_controls = "\n\r\t" if multiline else ""
        self.blank = blank

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        for char in text:
            code = ord(char)
            if 0xD800 <= code <= 0xDFFF:
                raise self.make_error("surrogate")
            if (code < 0x20 or 0x7F <= code < 0xA0) and char not in self.allowed_controls:
                raise self.make_error("control")
        if not self.blank and not text.strip():
            raise self.make_error("blank")
        return text


class ErrorBodySchema(Schema):
    code = fields.String(
        required=True,
        metadata={
            "description": "Stable machine code (not_found, invalid_request, site_closed, ...).",
            "example": "not_found",
        },
    )
    message = fields.String(
        required=True,
        metadata={"description": "For people, in the request's language (fr, or en)."},
    )
    details = fields.Dict(
        required=True,
        metadata={
            "description": "What was wrong (the field, the validation messages, ...); "
            "always present, {} when there is nothing to add.",
            "example": {},
        },
    )


class ErrorSchema(Schema):
    """Every error of the API: {"error": {"code", "message", "details"}}."""

    error = fields.Nested(ErrorBodySchema, required=True)


# --- auth -------------------------------------------------------------------


class TokenRequestSchema(StrictSchema):
    email = Text(
        required=True, validate=validate.Length(max=254), metadata={"example": "agent@guichet.demo"}
    )
    password = Text(
        required=True, validate=validate.Length(max=1024), metadata={"example": "demo-agent-2026"}
    )


class TokenSchema(Schema):
    token = fields.String(required=True)
    expires_at = fields.String(required=True)


# --- users ------------------------------------------------------------------


# Patterns the domain checks too (queue/accounts.py, queue/sites.py), stated here so
# that the OpenAPI document says what is accepted. ASCII classes: no control characters.
EMAIL = validate.Regexp(
    r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+\.[^@\s\x00-\x1f\x7f-\x9f]+$"
)
SLUG = validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,63}$")
SERVICE_CODE = validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$")
PREFIX = validate.Regexp(r"^[A-Za-z]{1,3}$")
LANGUAGE = validate.Regexp(r"^[a-z]{2,3}$")
TIMEZONE_DOC = {
    "description": "An IANA time zone, e.g. Africa/Dakar, Africa/Porto-Novo.",
    "enum": timezone_names(),
}


class UserCreateSchema(StrictSchema):
    """A user; managers and agents work at one site at least (``sites``), admins at all."""

    OPENAPI_EXTRA = {
        "oneOf": [
            {"properties": {"role": {"type": "string", "enum": [Role.ADMIN.value]}}},
            {
                "properties": {
                    "role": {
                        "type": "string",
                        "enum": [r.value for r in Role if r != Role.ADMIN],
                    },
                    "sites": {"type": "array", "minItems": 1},
                },
                "required": ["sites"],
            },
        ]
    }

    email = Text(
        required=True,
        validate=[validate.Length(max=254), EMAIL],
        metadata={"example": "awa.diallo@example.sn"},
    )
    password = Text(
        required=True,
        validate=validate.Length(min=8, max=1024),
        metadata={"example": "un mot de passe"},
    )
    role = Text(
        required=True,
        validate=validate.OneOf([r.value for r in Role]),
        metadata={"example": "agent"},
    )
    sites = fields.List(Text(validate=validate.Length(max=64)), load_default=list)
    full_name = Text(
        load_default="", validate=validate.Length(max=200), metadata={"example": "Awa Diallo"}
    )
    locale = Text(load_default=None, allow_none=True, validate=validate.OneOf(["fr", "en"]))


class UserPatchSchema(StrictSchema):
    password = Text(validate=validate.Length(min=8, max=1024))
    role = Text(validate=validate.OneOf([r.value for r in Role]))
    sites = fields.List(Text(validate=validate.Length(max=64)))
    full_name = Text(validate=validate.Length(max=200))
    locale = Text(allow_none=True, validate=validate.OneOf(["fr", "en"]))
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
    booking_enabled = fields.Boolean()
    slot_minutes = fields.Integer()
    slot_capacity = fields.Integer()
    booking_days_ahead = fields.Integer()
    icon = fields.String(allow_none=True, metadata={"description": "kiosk pictogram name"})
    sms_name = fields.String(allow_none=True, metadata={"description": "short name in SMS"})
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
    hours = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.List(fields.String())),
        allow_none=True,
        metadata={
            "description": "Weekly opening hours (site-local), as PUT /hours takes them; "
            "null when none are configured (always open); {} when closed every day.",
            "example": {"monday": [["08:00", "12:30"], ["14:00", "17:00"]]},
        },
    )
    closures = fields.List(fields.Date())
    sms_keyword = fields.String(
        metadata={"description": "the word naming the office in an SMS to a shared number"},
    )
    alert_phone = fields.String(
        allow_none=True,
        metadata={"description": "the phone told of new alerts, masked (+221•••••4567)"},
    )
    services = fields.List(fields.Nested(ServiceSchema))
    counters = fields.List(fields.Nested(CounterSchema))


class SiteCreateSchema(StrictSchema):
    slug = Text(
        required=True,
        validate=[validate.Length(min=1, max=64), SLUG],
        metadata={"example": "cotonou"},
    )
    name = Text(
        required=True,
        blank=False,
        validate=validate.Length(min=1, max=200),
        metadata={"example": "Mairie de Cotonou"},
    )
    timezone = Text(required=True, validate=validate.Length(max=64), metadata=TIMEZONE_DOC)
    languages = fields.List(
        Text(validate=LANGUAGE),
        validate=validate.Length(min=1, max=10),
        metadata={"description": "The first is the site's default language."},
    )


class SitePatchSchema(StrictSchema):
    name = Text(
        blank=False,
        validate=validate.Length(min=1, max=200),
        metadata={"example": "Espace Sénégal Services — Thiès"},
    )
    timezone = Text(validate=validate.Length(max=64), metadata=TIMEZONE_DOC)
    languages = fields.List(Text(validate=LANGUAGE), validate=validate.Length(min=1, max=10))
    sms_keyword = Text(
        allow_none=True,
        validate=validate.Length(max=20),
        metadata={
            "description": "The word naming the office in an SMS to a number several offices "
            'share ("RDV THIES CNI"); null or "": from the slug.',
            "example": "THIES",
        },
    )
    alert_phone = Text(
        allow_none=True,
        validate=[validate.Length(max=30), validate.Regexp(r"^([+(]?[0-9][0-9 ().\/-]*)?$")],
        metadata={
            "description": "The phone told by SMS of the office's new alerts (device offline, "
            'printer out of paper…); null or "": none.',
            "example": "+221 77 123 45 67",
        },
    )


def _names_field() -> fields.Dict:
    return fields.Dict(
        keys=Text(validate=LANGUAGE),
        values=Text(blank=False, validate=validate.Length(min=1, max=200)),
        validate=validate.Length(min=1, max=10),
        metadata={"description": "Name per language code", "example": {"fr": "État civil"}},
    )


ICON = {
    "description": 'kiosk pictogram name; null or "": none',
    "enum": [*available_icons(), "", None],
}


class ServiceCreateSchema(StrictSchema):
    """A service; its name in ``name`` (the site's first language) or ``names`` (or both)."""

    OPENAPI_EXTRA = {"anyOf": [{"required": ["name"]}, {"required": ["names"]}]}

    code = Text(required=True, validate=SERVICE_CODE, metadata={"example": "ETAT_CIVIL"})
    name = Text(
        blank=False, validate=validate.Length(min=1, max=200), metadata={"example": "État civil"}
    )
    names = _names_field()
    prefix = Text(
        required=True, validate=PREFIX, metadata={"example": "C", "description": "Ticket letter(s)"}
    )
    target_wait_minutes = fields.Integer(load_default=20, validate=validate.Range(1, 1440))
    avg_service_minutes = fields.Float(load_default=5, validate=validate.Range(0.25, 240))
    icon = fields.String(
        allow_none=True,
        validate=validate.OneOf([*available_icons(), "", None]),
        metadata=ICON,
    )

    @validates_schema
    def _needs_a_name(self, data: dict, **kwargs: object) -> None:
        if not data.get("name") and not data.get("names"):
            raise ValidationError("Give a name (or names per language).", "name")


class ServicePatchSchema(StrictSchema):
    name = Text(
        blank=False, validate=validate.Length(min=1, max=200), metadata={"example": "État civil"}
    )
    names = _names_field()
    prefix = Text(validate=PREFIX, metadata={"example": "C"})
    target_wait_minutes = fields.Integer(validate=validate.Range(1, 1440))
    avg_service_minutes = fields.Float(validate=validate.Range(0.25, 240))
    is_active = fields.Boolean()
    position = fields.Integer(validate=validate.Range(0, 10_000))
    sms_name = Text(
        allow_none=True,
        validate=validate.Length(max=30),
        metadata={
            "description": 'Short name in SMS (one segment); null or "": the name.',
            "example": "Carte d'identité",
        },
    )
    # Booking (appointments).
    booking_enabled = fields.Boolean()
    slot_minutes = fields.Integer(validate=validate.Range(5, 480))
    slot_capacity = fields.Integer(validate=validate.Range(1, 100))
    booking_days_ahead = fields.Integer(validate=validate.Range(1, 365))
    icon = fields.String(
        allow_none=True,
        validate=validate.OneOf([*available_icons(), "", None]),
        metadata=ICON,
    )
    priority_rule = fields.String(validate=validate.OneOf(["first", "none"]))


class CounterCreateSchema(StrictSchema):
    name = Text(
        required=True,
        blank=False,
        validate=validate.Length(min=1, max=64),
        metadata={"example": "Guichet 5"},
    )
    services = fields.List(
        Text(),
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata={"example": ["CNI", "CASIER"]},
    )
    weights = fields.Dict(
        keys=Text(),
        values=fields.Integer(validate=validate.Range(1, 100)),
        metadata={"example": {"CNI": 2}},
    )


class CounterPatchSchema(StrictSchema):
    name = Text(
        blank=False, validate=validate.Length(min=1, max=64), metadata={"example": "Guichet 5"}
    )
    services = fields.List(Text(), validate=validate.Length(min=1, max=50))
    weights = fields.Dict(keys=Text(), values=fields.Integer(validate=validate.Range(1, 100)))


class PauseSchema(StrictSchema):
    reason = Text(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=200),
        metadata={"example": "lunch"},
    )


class FooterField(fields.Field):
    """A ticket's footer: lines of text, or one text whose line breaks separate them."""

    default_error_messages = {"invalid": "Invalid value."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            return Text(multiline=True).deserialize(value)
        if isinstance(value, list):
            return [Text().deserialize(line) for line in value]
        raise self.make_error("invalid")


class PrinterOptionsSchema(StrictSchema):
    """How a kiosk's printer prints (guichet_printer.layout.LayoutOptions)."""

    paper_width_mm = fields.Integer(
        validate=validate.OneOf(sorted(PAPER)), metadata={"enum": sorted(PAPER), "example": 80}
    )
    codepage = fields.String(
        validate=validate.OneOf(sorted(CODEPAGES)),
        metadata={"description": "the printer's code page", "example": "cp1252"},
    )
    qr = fields.String(
        validate=validate.OneOf(list(QR_MODES)),
        metadata={"description": "how the tracking QR code is printed"},
    )
    qr_size = fields.Integer(
        validate=validate.Range(0, 16), metadata={"description": "dots per module; 0: automatic"}
    )
    cut = fields.String(validate=validate.OneOf(["PART", "FULL", "NONE"]))
    footer = FooterField(
        metadata={
            "description": "lines printed under the ticket",
            "oneOf": [
                {"type": "string", "pattern": MULTILINE_PATTERN},
                {"type": "array", "items": {"type": "string", "pattern": SINGLE_LINE_PATTERN}},
            ],
        }
    )


# Only kiosks print: another device takes no printer settings, or null ones (no printer).
_NO_PRINTER = {
    "printer": {"type": "string", "nullable": True, "enum": [None]},
    "printer_options": {"type": "object", "nullable": True, "enum": [None]},
    "print_agent": {"type": "integer", "nullable": True, "enum": [None]},
}


class DeviceCreateSchema(StrictSchema):
    """A device; ``printer``, ``printer_options`` and ``print_agent`` are for kiosks only."""

    OPENAPI_EXTRA = {
        "oneOf": [
            {"properties": {"kind": {"type": "string", "enum": [DeviceKind.KIOSK.value]}}},
            {
                "properties": {
                    "kind": {
                        "type": "string",
                        "enum": [k.value for k in DeviceKind if k != DeviceKind.KIOSK],
                    },
                    **_NO_PRINTER,
                }
            },
        ]
    }

    kind = Text(
        required=True,
        validate=validate.OneOf([k.value for k in DeviceKind]),
        metadata={"example": "kiosk"},
    )
    name = Text(
        required=True,
        blank=False,
        validate=validate.Length(min=1, max=100),
        metadata={"example": "Borne d'accueil"},
    )
    # Kiosks: the ticket printer URL, its layout options, the print agent printing for it.
    printer = Text(
        allow_none=True,
        validate=validate.Length(max=255),
        metadata={
            "description": "kiosks: the ticket printer's URL, tcp://HOST:PORT, usb://VID:PID "
            '(hexadecimal), file:///PATH, serial:///DEV or dummy:; null or "": none'
        },
    )
    printer_options = fields.Nested(PrinterOptionsSchema, allow_none=True)
    print_agent = fields.Integer(
        allow_none=True,
        metadata={
            "description": "kiosks: the id of the print agent (a printer device) of the site"
        },
    )

    @validates_schema
    def _only_kiosks_print(self, data: dict, **kwargs: object) -> None:
        if data.get("kind") == DeviceKind.KIOSK.value:
            return
        for name in ("printer", "print_agent", "printer_options"):
            if data.get(name) is not None:
                raise ValidationError("Only kiosks have a printer.", name)


class DeviceSchema(Schema):
    id = fields.Integer()
    site = fields.String()
    kind = fields.String()
    name = fields.String()
    created_at = fields.String()
    revoked = fields.Boolean()
    services = fields.List(
        fields.String(), metadata={"description": "service codes it is configured for; []: all"}
    )
    token = fields.String(metadata={"description": "only in the answer that creates or rotates it"})
    printer = fields.String(allow_none=True, metadata={"description": "kiosks: printer URL"})
    printer_options = fields.Dict()
    print_agent = fields.Integer(allow_none=True)
    last_seen_at = fields.String(
        allow_none=True,
        metadata={"description": "its last request or socket activity; null until first seen"},
    )
    online = fields.Boolean(metadata={"description": "seen within DEVICE_OFFLINE_SECONDS"})
    printer_status = fields.String(
        metadata={
            "description": "a kiosk that prints: its printer's real-time status",
            "enum": ["ok", "paper_low", "paper_out", "cover_open", "offline", "unknown"],
        }
    )


# What a phone number looks like as people write it; whether it exists in the numbering
# plan (phonenumbers, read in the installation's region) only the server can tell (400).
PHONE_PATTERN = r"^[+(]?[0-9][0-9 ().\/-]*$"
PHONE = validate.Regexp(PHONE_PATTERN)
PHONE_OR_EMPTY = validate.Regexp(r"^([+(]?[0-9][0-9 ().\/-]*)?$")
PHONE_DOC = {
    "description": "A phone number as people write it: +221 77 123 45 67, 77 123 45 67, "
    "00229 01 97 12 34 56 (digits, spaces, + ( ) . / -), read in the installation's "
    "region (DEFAULT_PHONE_REGION); one that is not a real number is refused (400 invalid_input).",
    "example": "+221 77 123 45 67",
}

HHMM = validate.Regexp(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def _day_field() -> fields.List:
    interval = fields.List(fields.String(validate=HHMM), validate=validate.Length(equal=2))
    return fields.List(interval, load_default=list, validate=validate.Length(max=12))


class HoursSchema(StrictSchema):
    """Opening hours by full English weekday name: site-local ["HH:MM", "HH:MM"] intervals.

    A missing or empty day is closed, so {} closes the site every day.
    DELETE /hours goes back to "no hours configured" (always open).
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
    service = Text(
        required=True, validate=validate.Length(min=1, max=32), metadata={"example": "CNI"}
    )
    priority = fields.Boolean(load_default=False)
    phone = Text(
        load_default=None,
        allow_none=True,
        validate=[validate.Length(max=32), PHONE_OR_EMPTY],
        metadata={**PHONE_DOC, "description": PHONE_DOC["description"] + ' Null or "": none.'},
    )


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
    print_job = fields.Dict(
        allow_none=True,
        metadata={"description": 'issued by a printing kiosk: {"id", "status"} of its print job'},
    )


class TransferSchema(StrictSchema):
    service = Text(
        required=True, validate=validate.Length(min=1, max=32), metadata={"example": "CASIER"}
    )


class TrackSchema(Schema):
    version = fields.Integer(metadata={"description": "drop a state older than one shown"})
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


class BoardServiceSchema(Schema):
    code = fields.String()
    name = fields.String()
    prefix = fields.String()


class BoardSchema(Schema):
    site = fields.String()
    site_name = fields.String()
    calls = fields.List(fields.Nested(BoardCallSchema))
    waiting = fields.Dict(keys=fields.String(), values=fields.Integer())
    generated_at = fields.String()
    version = fields.Integer(
        metadata={"description": "grows with the site's state; drop older states arriving late"}
    )
    message = fields.String(allow_none=True, metadata={"description": "the manager's line"})
    services = fields.List(fields.Nested(BoardServiceSchema))
    server_version = fields.String(
        metadata={"description": "changes when a new server version is deployed"}
    )


class HealthSchema(Schema):
    status = fields.String()
