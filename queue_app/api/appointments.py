"""Appointments: slots, booking, cancelling, check-in; a site's SMS gateway settings."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, request
from marshmallow import Schema, fields, validate

from ..extensions import db, limiter
from ..models import Appointment, BookingChannel, Device, User, utcnow
from ..printing.spool import print_job_brief, spool_ticket
from ..queue import Actor, errors
from ..queue.booking import (
    BookingRules,
    appointments_of_day,
    available_slots,
    book,
    cancel,
    check_in,
    get_appointment,
)
from ..queue.days import local_now, service_day
from ..queue.phones import normalize_phone
from ..queue.sites import get_service, get_site, get_site_and_service
from ..realtime.publish import iso
from ..security.lookup_limits import guards_lookup, refused_api
from ..security.permissions import (
    require_principal,
    require_site_manager,
    require_site_reader,
    require_site_staff,
)
from ..sms import notices, registry
from . import ApiBlueprint, principal
from .inputs import SINGLE_LINE_PATTERN, Date
from .schemas import PHONE, PHONE_DOC, StrictSchema, Text, TicketSchema
from .serialize import ticket_json
from .tickets import IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_KEY_RE, idempotency_key

blp = ApiBlueprint("api_appointments", __name__, description="Appointments and SMS settings")

# Open to anyone (the booking page, a citizen with a reference); rate limited.
PUBLIC = {
    "api_appointments.slots",
    "api_appointments.create_appointment",
    "api_appointments.get_one",
    "api_appointments.cancel_appointment",
}


def _booking_limit() -> str:
    return str(current_app.config["RATELIMIT_BOOKING"])


def rules() -> BookingRules:
    return BookingRules.from_config(current_app.config)


class SlotQuerySchema(Schema):
    date = Date(required=True)


class SlotSchema(Schema):
    start = fields.String(metadata={"description": "UTC, ISO 8601"})
    end = fields.String()
    local_time = fields.String(metadata={"description": "HH:MM in the site's time zone"})
    available = fields.Integer()


class AppointmentCreateSchema(StrictSchema):
    service = fields.String(required=True, validate=validate.Length(min=1, max=32))
    start = fields.AwareDateTime(required=True, metadata={"example": "2026-11-25T09:00:00Z"})
    phone = fields.String(
        required=True, validate=[validate.Length(min=6, max=32), PHONE], metadata=PHONE_DOC
    )
    name = Text(load_default=None, allow_none=True, validate=validate.Length(max=100))
    language = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(["fr", "en"])
    )


class AppointmentSchema(Schema):
    id = fields.Integer()
    reference = fields.String(metadata={"example": "K7P4XM"})
    status = fields.String(metadata={"enum": ["booked", "cancelled", "checked_in", "no_show"]})
    site = fields.String()
    site_name = fields.String()
    service = fields.String()
    service_name = fields.String()
    start = fields.String()
    end = fields.String()
    local_start = fields.String(metadata={"description": "site-local, YYYY-MM-DD HH:MM"})
    channel = fields.String()
    ticket = fields.String(allow_none=True, metadata={"description": "label once checked in"})
    phone = fields.String(allow_none=True, metadata={"description": "masked; staff only"})
    name = fields.String(allow_none=True, metadata={"description": "staff only"})
    ics_url = fields.String()


class DayQuerySchema(Schema):
    date = Date(load_default=None)


def _gateway_fields(names: Any) -> dict[str, Any]:
    value = {"type": "string", "nullable": True, "pattern": SINGLE_LINE_PATTERN}
    return {"type": "object", "properties": dict.fromkeys(names, value),
            "additionalProperties": False}  # fmt: skip


class GatewaySettingsSchema(StrictSchema):
    """A gateway and its own options and secrets (each gateway has its names); null: the
    installation's default (options and secrets are then ignored)."""

    OPENAPI_EXTRA = {
        "oneOf": [
            {"properties": {"gateway": {"type": "string", "nullable": True, "enum": [None]}}},
            *(
                {
                    "properties": {
                        "gateway": {"type": "string", "enum": [name]},
                        "options": _gateway_fields(registry.OPTIONS[name]),
                        "secrets": _gateway_fields(registry.SECRETS[name]),
                    }
                }  # fmt: skip
                for name in registry.GATEWAYS
            ),
        ]
    }

    gateway = fields.String(required=True, allow_none=True,
                            validate=validate.OneOf([*registry.GATEWAYS, None]))  # fmt: skip
    # Keys are the gateway's names (an unknown one is refused: 400), checked by the domain.
    options = fields.Dict(values=fields.String(allow_none=True), load_default=dict)
    secrets = fields.Dict(values=fields.String(allow_none=True), load_default=dict)


class GatewayPublicSchema(Schema):
    gateway = fields.String()
    own = fields.Boolean(metadata={"description": "false: the installation's default gateway"})
    options = fields.Dict()
    secrets_set = fields.List(fields.String(), metadata={"description": "names only, never values"})


def appointment_json(appointment: Appointment, *, staff: bool = False) -> dict[str, Any]:
    from ..queue.phones import mask_phone

    site, service = appointment.site, appointment.service
    base = current_app.config["PUBLIC_URL"]
    data = {
        "id": appointment.id,
        "reference": appointment.reference,
        "status": appointment.status.value,
        "site": site.slug,
        "site_name": site.name,
        "service": service.code,
        "service_name": service.name,
        "start": iso(appointment.slot_start),
        "end": iso(appointment.slot_end),
        "local_start": local_now(site, appointment.slot_start).strftime("%Y-%m-%d %H:%M"),
        "channel": appointment.channel.value,
        "ticket": appointment.ticket.label if appointment.ticket is not None else None,
        "ics_url": f"{base}/book/{site.slug}/{appointment.reference}.ics",
    }
    if staff:
        data["phone"] = mask_phone(appointment.phone) if appointment.phone else None
        data["name"] = appointment.name
    return data


@blp.route("/sites/<slug>/services/<code>/slots")
@blp.doc(security=[])
@blp.arguments(SlotQuerySchema, location="query")
@blp.response(200, SlotSchema(many=True))
@limiter.limit(_booking_limit)
def slots(query: dict, slug: str, code: str) -> list[dict]:
    """Public: the bookable slots of a site-local day and their free places."""
    site, service = get_site_and_service(db.session, slug, code)
    day: date = query["date"]
    return [
        {
            "start": iso(slot.start),
            "end": iso(slot.end),
            "local_time": local_now(site, slot.start).strftime("%H:%M"),
            "available": slot.available,
        }
        for slot in available_slots(db.session, site, service, day, rules=rules())
    ]


@blp.route("/sites/<slug>/appointments", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(AppointmentCreateSchema)
@blp.response(201, AppointmentSchema)
@blp.alt_response(
    400,
    description="Bad input; not_a_slot: `start` is not one of the service's slots "
    "(GET .../slots lists them); invalid_input on `phone`: not a real phone number",
)
@blp.alt_response(409, description="The slot is full, booking is off, or the phone already booked")
@blp.alt_response(429, description="Too many bookings from this address")
@limiter.limit(_booking_limit)
def create_appointment(body: dict, slug: str) -> tuple[dict, int]:
    """Book a slot (public, rate limited; or staff); a confirmation SMS gives the reference."""
    site, service = get_site_and_service(db.session, slug, body["service"])
    phone = normalize_phone(body["phone"], current_app.config["DEFAULT_PHONE_REGION"])
    who = principal()
    staff = isinstance(who, User)
    appointment = book(
        db.session, site, service, body["start"], phone=phone, name=body.get("name"),
        channel=BookingChannel.STAFF if staff else BookingChannel.WEB,
        language=body.get("language"), rules=rules(),
    )  # fmt: skip
    notices.confirm(db.session, appointment)
    db.session.commit()
    return appointment_json(appointment, staff=staff), 201


@blp.route("/sites/<slug>/appointments", methods=["GET"])
@blp.arguments(DayQuerySchema, location="query")
@blp.response(200, AppointmentSchema(many=True))
def list_appointments(query: dict, slug: str) -> list[dict]:
    """A day's appointments (staff of the site; default today, site-local)."""
    site = get_site(db.session, slug)
    require_site_staff(principal(), site)
    day = query.get("date") or service_day(site, utcnow())
    return [appointment_json(a, staff=True) for a in appointments_of_day(db.session, site, day)]


GUESSING = "Too many unknown codes from this address, or everywhere (LOOKUP_LIMIT_*)"


@blp.route("/appointments/<reference>", methods=["GET"])
@blp.doc(security=[])
@blp.response(200, AppointmentSchema)
@blp.alt_response(429, description=GUESSING)
@guards_lookup(refused_api)
def get_one(reference: str) -> dict:
    """Public with the reference: the appointment (no personal data)."""
    return appointment_json(get_appointment(db.session, reference[:16]))


@blp.route("/appointments/<reference>/cancel", methods=["POST"])
@blp.doc(security=[])
@blp.response(200, AppointmentSchema)
@blp.alt_response(409, description="Already checked in, or over")
@blp.alt_response(429, description=GUESSING)
@limiter.limit(_booking_limit)
@guards_lookup(refused_api)
def cancel_appointment(reference: str) -> dict:
    """Cancel by reference (whoever holds it); the place is given back. Repeating is harmless."""
    appointment = get_appointment(db.session, reference[:16], lock=True)
    if cancel(db.session, appointment):
        notices.cancelled(db.session, appointment)
    db.session.commit()
    return appointment_json(appointment)


@blp.route("/appointments/<reference>/check-in", methods=["POST"])
@blp.response(201, TicketSchema)
@blp.alt_response(200, schema=TicketSchema, description="A replay with the same Idempotency-Key")
@blp.alt_response(404, description="Unknown reference")
@blp.alt_response(409, description="Cancelled, already checked in, or over")
@blp.alt_response(
    422,
    description="too_early or too_late for this appointment; idempotency_key_mismatch: "
    "this sender already used the Idempotency-Key today for another request",
)
@blp.alt_response(400, description="A malformed Idempotency-Key")
@blp.doc(parameters=[IDEMPOTENCY_KEY_HEADER])
def check_in_view(reference: str) -> Any:
    """Check in (a kiosk of the site, or staff): the appointment becomes a ticket.

    The answer is the ticket, as POST /sites/<slug>/tickets gives it; it is
    called first once its slot has come. 422 ``too_early`` (details.opens_at) or
    ``too_late`` outside the window (CHECK_IN_EARLY_MINUTES before the slot,
    CHECK_IN_LATE_MINUTES after its start).
    """
    who = require_principal(principal())
    appointment = get_appointment(db.session, reference[:16], lock=True)
    require_site_reader(who, appointment.site)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY_RE.match(key):
        raise errors.InvalidInput(field="Idempotency-Key", max_length=128)
    actor = Actor(device=who) if isinstance(who, Device) else Actor(user=who)
    issued = check_in(
        db.session, appointment, actor=actor, rules=rules(), idempotency_key=idempotency_key(key)
    )
    if issued.created and isinstance(who, Device):
        # Printed on the kiosk's printer, laid out once a printer takes it.
        spool_ticket(db.session, issued.ticket, who, issued.position, issued.estimated_wait_minutes)
    db.session.commit()
    answer = ticket_json(issued.ticket, issued.position, issued.estimated_wait_minutes)
    if isinstance(who, Device):
        # The kiosk shows whether its ticket is printing (as for POST tickets).
        answer["print_job"] = print_job_brief(db.session, issued.ticket)
    return answer, (201 if issued.created else 200)


@blp.route("/sites/<slug>/sms-gateway", methods=["GET"])
@blp.response(200, GatewayPublicSchema)
def get_gateway(slug: str) -> dict:
    """The site's SMS gateway: its own, or the installation's default (secrets never shown)."""
    site = get_site(db.session, slug)
    require_site_manager(principal(), site)
    settings = registry.site_settings(db.session, site.id)
    name = registry.gateway_name(db.session, site, current_app.config)
    return registry.public_settings(name, settings)


@blp.route("/sites/<slug>/sms-gateway", methods=["PUT"])
@blp.arguments(GatewaySettingsSchema)
@blp.response(200, GatewayPublicSchema)
def put_gateway(body: dict, slug: str) -> dict:
    """Give the site its own gateway (its Android phone, its Orange account), or null for the
    default. Secrets left out keep their stored value; they are never returned."""
    site = get_site(db.session, slug)
    require_site_manager(principal(), site)
    settings = registry.set_site_gateway(
        db.session, site, body["gateway"], body["options"], body["secrets"]
    )
    db.session.commit()
    name = registry.gateway_name(db.session, site, current_app.config)
    return registry.public_settings(name, settings)


__all__ = ["blp", "get_service"]
