"""Tickets: issue, read, every state change, public tracking."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import current_app, request
from flask.views import MethodView

from ..extensions import db
from ..models import Device, Ticket, TicketSource, User, utcnow
from ..printing.spool import print_job_brief, spool_ticket
from ..queue import (
    Actor,
    cancel,
    errors,
    finish,
    get_ticket,
    get_ticket_by_code,
    issue_ticket,
    mark_no_show,
    recall,
    start,
    transfer,
)
from ..queue.estimates import position_and_wait
from ..queue.idempotency import Key
from ..queue.phones import normalize_phone
from ..queue.sites import get_service, site_and_service
from ..realtime.publish import ticket_update_payload
from ..security.lookup_limits import guards_lookup, refused_api
from ..security.permissions import (
    require_principal,
    require_ticket_issuer,
    require_ticket_operator,
    require_ticket_reader,
)
from . import ApiBlueprint, json_answer, principal
from .schemas import TicketCreateSchema, TicketSchema, TrackSchema, TransferSchema
from .serialize import ticket_json

blp = ApiBlueprint("api_tickets", __name__, description="Tickets and their life")

IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,128}$")
IDEMPOTENCY_KEY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[!-~]+$"},
    "description": (
        "Makes the request safe to retry (a kiosk that lost the answer sends it again "
        "with the same key). A key is the sender's own: another kiosk or user sending "
        "the same key gets its own ticket. It holds until the end of the site's service "
        "day; the next day the same key issues a new ticket. A retry with the same key "
        "and the same body answers 201 with the ticket issued first (its current state) "
        "and the header `Idempotent-Replayed: true`, and takes no number; concurrent "
        "retries make one ticket. The same key with another body (service, priority or "
        "phone) answers 422 `idempotency_key_mismatch`. Printable ASCII, 1 to 128 "
        "characters (a UUID is a good key)."
    ),
}


def _actor(who: User | Device) -> Actor:
    return Actor(user=who) if isinstance(who, User) else Actor(device=who)


def _answer(ticket: Ticket) -> dict:
    return ticket_json(ticket, *position_and_wait(db.session, ticket))


@blp.route("/sites/<slug>/tickets")
class TicketsView(MethodView):
    @blp.arguments(TicketCreateSchema)
    @blp.response(
        201,
        TicketSchema,
        headers={
            "Idempotent-Replayed": {
                "description": "Present (true) when an Idempotency-Key retry answers "
                "the ticket issued first",
                "schema": {"type": "string", "enum": ["true"]},
            }
        },
    )
    @blp.alt_response(409, description="The office is closed, or the service is not available")
    @blp.alt_response(
        422,
        description="idempotency_key_mismatch: this sender already used the "
        "Idempotency-Key today for a different request",
    )
    @blp.doc(parameters=[IDEMPOTENCY_KEY_HEADER])
    def post(self, body: dict, slug: str) -> Any:
        """Issue a ticket for a service (a kiosk of the site, or staff)."""
        who = require_principal(principal())
        # The per-process cache's site and service: nothing is read for them.
        site, service = site_and_service(db.session, slug, body["service"])
        require_ticket_issuer(who, site)
        key = request.headers.get("Idempotency-Key")
        if key is not None and not IDEMPOTENCY_KEY_RE.match(key):
            raise errors.InvalidInput(field="Idempotency-Key", max_length=128)
        phone = None
        if body.get("phone"):
            phone = normalize_phone(body["phone"], current_app.config["DEFAULT_PHONE_REGION"])
        is_kiosk = isinstance(who, Device)
        issued = issue_ticket(
            db.session,
            site,
            service,
            actor=_actor(who),
            source=TicketSource.KIOSK if is_kiosk else TicketSource.STAFF,
            priority=body["priority"],
            phone=phone,
            idempotency_key=idempotency_key(key),
            # Staff may still let a late citizen in; kiosks stop at closing time.
            enforce_hours=is_kiosk,
        )
        job = None
        if issued.created and isinstance(who, Device):
            # Written with the ticket, laid out once a printer takes it.
            job = spool_ticket(
                db.session, issued.ticket, who, issued.position, issued.estimated_wait_minutes
            )
        db.session.commit()
        answer = ticket_json(issued.ticket, issued.position, issued.estimated_wait_minutes)
        if is_kiosk:
            if issued.created:
                answer["print_job"] = (
                    {"id": job.id, "status": job.status.value} if job is not None else None
                )
            else:
                answer["print_job"] = print_job_brief(db.session, issued.ticket)
        headers = {} if issued.created else {"Idempotent-Replayed": "true"}
        return json_answer(answer, 201, headers)


def idempotency_key(value: str | None) -> Key | None:
    """The request's Idempotency-Key, keyed with the application's secret (idempotency.py)."""
    if value is None:
        return None
    return Key(value, str(current_app.config["SECRET_KEY"]).encode())


@blp.route("/tickets/<int:ticket_id>")
@blp.response(200, TicketSchema)
def get_one(ticket_id: int) -> dict:
    """A ticket with its current position (staff of its site, or the kiosk that issued it,
    for KIOSK_READ_MINUTES after issuing it)."""
    ticket = get_ticket(db.session, ticket_id)
    require_ticket_reader(principal(), ticket, device_window=kiosk_read_window(), now=utcnow())
    return _answer(ticket)


def kiosk_read_window() -> timedelta:
    """How long a kiosk reads back a ticket it issued, and its print job."""
    return timedelta(minutes=float(current_app.config["KIOSK_READ_MINUTES"]))


def _transition(ticket_id: int, operation: Callable[..., Ticket], **kwargs: Any) -> dict:
    ticket = get_ticket(db.session, ticket_id, lock=True)
    user = require_ticket_operator(principal(), ticket)
    operation(db.session, ticket, actor=Actor(user=user), **kwargs)
    db.session.commit()
    return _answer(ticket)


def _register(action: str, operation: Callable[..., Ticket], doc: str) -> None:
    def view(ticket_id: int) -> dict:
        return _transition(ticket_id, operation)

    view.__name__ = f"ticket_{action.replace('-', '_')}"
    view.__doc__ = doc
    blp.route(f"/tickets/<int:ticket_id>/{action}", methods=["POST"])(
        blp.alt_response(422, description="Not allowed in the ticket's current state")(
            blp.response(200, TicketSchema)(view)
        )
    )


_register("recall", recall, "Announce a called ticket again.")
_register("start", start, "The citizen is at the counter: called → serving.")
_register("finish", finish, "Service is over: called or serving → done.")
_register("no-show", mark_no_show, "The citizen did not come: called → no_show.")
_register("cancel", cancel, "The citizen gave up: waiting or called → cancelled.")


@blp.route("/tickets/<int:ticket_id>/transfer", methods=["POST"])
@blp.arguments(TransferSchema)
@blp.response(200, TicketSchema)
@blp.alt_response(422, description="Not allowed in the ticket's current state")
@blp.alt_response(409, description="The new service is not available (service_inactive)")
def transfer_view(body: dict, ticket_id: int) -> dict:
    """Send the ticket to another service: same label, waiting again there."""
    ticket = get_ticket(db.session, ticket_id, lock=True)
    user = require_ticket_operator(principal(), ticket)
    service = get_service(db.session, ticket.site, body["service"])
    transfer(db.session, ticket, service, actor=Actor(user=user))
    db.session.commit()
    return _answer(ticket)


@blp.route("/track/<code>")
@blp.doc(security=[])
@blp.response(200, TrackSchema)
@blp.alt_response(429, description="Too many unknown codes from this address, or everywhere")
@guards_lookup(refused_api)
def track(code: str) -> dict:
    """Public: follow a ticket by its tracking code (no personal data)."""
    ticket = get_ticket_by_code(db.session, code)
    return track_json(ticket)


def track_json(ticket: Ticket) -> dict:
    """A ticket as its tracking page shows it."""
    from ..screens import site_version

    version = site_version(db.session, ticket.site_id)
    return {
        # The same fields as its live ``ticket_updated`` pushes, and where it is.
        **ticket_update_payload(ticket, *position_and_wait(db.session, ticket)),
        "version": version,
        "service": ticket.service.code,
        "service_name": ticket.service.name,
        "site": ticket.site.slug,
        "site_name": ticket.site.name,
    }
