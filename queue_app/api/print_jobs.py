"""The print spool: print agents claim and acknowledge jobs; staff list, reprint, check printers."""

from __future__ import annotations

import base64
from typing import Any

from flask import current_app, request
from marshmallow import Schema, fields, validate

from ..extensions import db
from ..models import Device, DeviceKind, PrintJob, PrintJobStatus, Ticket, utcnow
from ..printing import spool
from ..printing.devices import configure_printer, refresh_printer_status
from ..queue import Actor, errors, get_ticket
from ..queue.sites import get_site
from ..realtime.publish import iso
from ..security.permissions import (
    require_principal,
    require_print_job_reader,
    require_site_manager,
    require_site_staff,
)
from . import ApiBlueprint, principal
from .schemas import DeviceCreateSchema, DeviceSchema, PrinterOptionsSchema, StrictSchema, Text
from .serialize import device_json

blp = ApiBlueprint("api_print_jobs", __name__, description="Ticket printing and the print spool")


class PrinterStatusSchema(Schema):
    online = fields.Boolean(allow_none=True)
    paper = fields.String(allow_none=True, metadata={"enum": ["ok", "low", "out", None]})
    cover = fields.String(allow_none=True, metadata={"enum": ["open", "closed", None]})
    error = fields.String(allow_none=True)
    at = fields.String(allow_none=True)


class PrintJobSchema(Schema):
    id = fields.Integer()
    site = fields.String()
    kind = fields.String(metadata={"enum": ["ticket", "reprint"]})
    status = fields.String(metadata={"enum": [s.value for s in PrintJobStatus]})
    attempts = fields.Integer()
    ticket = fields.Dict(allow_none=True, metadata={"description": '{"id", "label"}'})
    device = fields.Dict(allow_none=True, metadata={"description": 'the kiosk: {"id", "name"}'})
    print_agent = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.String()
    next_attempt_at = fields.String(allow_none=True)
    printed_at = fields.String(allow_none=True)
    printer_status = fields.Nested(PrinterStatusSchema, allow_none=True)


class ClaimedJobSchema(PrintJobSchema):
    payload_b64 = fields.String(metadata={"description": "the ESC/POS bytes, base64"})


class PrinterReportSchema(StrictSchema):
    online = fields.Boolean(allow_none=True)
    paper = fields.String(allow_none=True, validate=validate.OneOf(["ok", "low", "out"]))
    cover = fields.String(allow_none=True, validate=validate.OneOf(["open", "closed"]))
    error = Text(allow_none=True, validate=validate.Length(max=500))


class DoneSchema(StrictSchema):
    printer = fields.Nested(PrinterReportSchema, load_default=None, allow_none=True)


class FailedSchema(StrictSchema):
    error = Text(required=True, validate=validate.Length(min=1, max=500))
    printer = fields.Nested(PrinterReportSchema, load_default=None, allow_none=True)


class ListArgs(Schema):
    status = fields.String(
        load_default=None, validate=validate.OneOf([s.value for s in PrintJobStatus])
    )


class PrinterSettingsSchema(StrictSchema):
    """A device's name; a kiosk's printer settings (another device takes them null only)."""

    name = Text(validate=validate.Length(min=1, max=100))
    printer = DeviceCreateSchema._declared_fields["printer"]
    printer_options = fields.Nested(PrinterOptionsSchema, allow_none=True)
    print_agent = DeviceCreateSchema._declared_fields["print_agent"]


class KioskPrinterSchema(Schema):
    device = fields.Integer()
    printer = fields.String(allow_none=True)
    printer_options = fields.Dict()
    print_agent = fields.Integer(allow_none=True)
    via = fields.String(metadata={"enum": ["server", "agent", "none"]})
    status = fields.Nested(PrinterStatusSchema, allow_none=True)
    pending_jobs = fields.Integer()


def job_json(job: PrintJob, *, payload: bool = False) -> dict[str, Any]:
    device = job.device
    data: dict[str, Any] = {
        "id": job.id,
        "site": device.site.slug if device is not None else None,
        "kind": job.kind.value,
        "status": job.status.value,
        "attempts": job.attempts,
        "ticket": {"id": job.ticket.id, "label": job.ticket.label} if job.ticket else None,
        "device": {"id": device.id, "name": device.name} if device is not None else None,
        "print_agent": job.agent_id,
        "last_error": job.last_error,
        "created_at": iso(job.created_at),
        "next_attempt_at": iso(job.next_attempt_at) if job.status in spool.DUE_STATUSES else None,
        "printed_at": iso(job.printed_at),
        "printer_status": device.printer_status if device is not None else None,
    }
    if payload and job.payload is not None:
        data["payload_b64"] = base64.b64encode(job.payload).decode("ascii")
    return data


def _agent() -> Device:
    who = require_principal(principal())
    if not isinstance(who, Device) or who.kind != DeviceKind.PRINTER:
        raise errors.Forbidden(reason="print agents only")
    return who


def _agent_job(job_id: int) -> tuple[Device, PrintJob]:
    agent = _agent()
    job = db.session.get(PrintJob, job_id, with_for_update=True)
    if job is None or job.agent_id != agent.id:
        raise errors.NotFound(print_job=job_id)
    return agent, job


@blp.route("/print-jobs/claim", methods=["POST"])
@blp.response(200, ClaimedJobSchema(many=True))
@blp.alt_response(403, description="Not a print agent's token")
def claim_jobs() -> list[dict]:
    """A print agent takes its due jobs (ESC/POS bytes) for a lease, then answers done or failed."""
    agent = _agent()
    jobs = spool.claim(db.session, agent=agent)
    answer = [job_json(job, payload=True) for job in jobs]
    db.session.commit()
    return answer


@blp.route("/print-jobs/<int:job_id>/done", methods=["POST"])
@blp.arguments(DoneSchema)
@blp.response(200, PrintJobSchema)
@blp.alt_response(404, description="Not a job of this print agent")
def job_done(body: dict, job_id: int) -> dict:
    """The agent printed the job (idempotent: a repeated answer changes nothing)."""
    _agent_, job = _agent_job(job_id)
    spool.mark_done(db.session, job, printer=body.get("printer"))
    db.session.commit()
    return job_json(job)


@blp.route("/print-jobs/<int:job_id>/failed", methods=["POST"])
@blp.arguments(FailedSchema)
@blp.response(200, PrintJobSchema)
@blp.alt_response(404, description="Not a job of this print agent")
def job_failed(body: dict, job_id: int) -> dict:
    """The agent could not print: the job is retried later (backoff), or given up when too old."""
    _agent_, job = _agent_job(job_id)
    spool.mark_failed(db.session, job, body["error"], printer=body.get("printer"))
    db.session.commit()
    return job_json(job)


@blp.route("/print-jobs/<int:job_id>")
@blp.response(200, PrintJobSchema)
@blp.alt_response(404, description="Unknown job")
def get_job(job_id: int) -> dict:
    """A job and its printer's status (staff, its print agent, or the kiosk it prints for
    within KIOSK_READ_MINUTES)."""
    from .tickets import kiosk_read_window

    who = require_principal(principal())
    job = spool.get_job(db.session, job_id)
    require_print_job_reader(
        who, job, _job_site(job), device_window=kiosk_read_window(), now=utcnow()
    )
    return job_json(job)


def _job_site(job: PrintJob) -> Any:
    from ..models import Site

    return db.session.get(Site, job.site_id)


@blp.route("/print-jobs/<int:job_id>/reprint", methods=["POST"])
@blp.response(200, PrintJobSchema)
@blp.alt_response(404, description="Unknown job")
@blp.alt_response(409, description="No printing kiosk at this site")
@blp.alt_response(422, description="A printed job whose ticket is gone (no_ticket)")
def reprint_job(job_id: int) -> dict:
    """Print again: a failed job goes back to the spool; a printed one is printed as a duplicate."""
    job = spool.get_job(db.session, job_id)
    user = require_site_staff(principal(), _job_site(job))
    job = spool.retry_job(db.session, job, actor=Actor(user=user))
    db.session.commit()
    return job_json(job)


@blp.route("/tickets/<int:ticket_id>/reprint", methods=["POST"])
@blp.response(201, PrintJobSchema)
@blp.alt_response(409, description="No printing kiosk at this site")
def reprint_ticket(ticket_id: int) -> Any:
    """Print a ticket again for a citizen who lost it (marked as a duplicate)."""
    ticket: Ticket = get_ticket(db.session, ticket_id)
    user = require_site_staff(principal(), ticket.site)
    job = spool.reprint_ticket(db.session, ticket, actor=Actor(user=user))
    db.session.commit()
    return job_json(job)


@blp.route("/sites/<slug>/print-jobs")
@blp.arguments(ListArgs, location="query")
@blp.response(200, PrintJobSchema(many=True))
def list_jobs(args: dict, slug: str) -> list[dict]:
    """The site's print spool, newest first; ``?status=failed``: the tickets that did not print."""
    site = get_site(db.session, slug)
    require_site_staff(principal(), site)
    status = PrintJobStatus(args["status"]) if args.get("status") else None
    return [job_json(job) for job in spool.list_jobs(db.session, site, status=status)]


def _kiosk(slug: str, device_id: int) -> Device:
    site = get_site(db.session, slug)
    require_site_staff(principal(), site)
    device = db.session.get(Device, device_id)
    if device is None or device.site_id != site.id:
        raise errors.NotFound(device=device_id)
    return device


def printer_json(device: Device) -> dict[str, Any]:
    via = "agent" if device.print_agent_id else ("server" if device.printer else "none")
    return {
        "device": device.id,
        "printer": device.printer,
        "printer_options": device.printer_options or {},
        "print_agent": device.print_agent_id,
        "via": via,
        "status": device.printer_status,
        "pending_jobs": spool.pending_count(db.session, device),
    }


@blp.route("/sites/<slug>/devices/<int:device_id>/printer")
@blp.response(200, KioskPrinterSchema)
@blp.alt_response(404, description="Unknown device")
def kiosk_printer(slug: str, device_id: int) -> dict:
    """A kiosk's printer and its status (staff). ``?refresh=1`` asks a server-driven printer now."""
    device = _kiosk(slug, device_id)
    if request.args.get("refresh"):
        refresh_printer_status(db.session, device)
    return printer_json(device)


@blp.route("/sites/<slug>/devices/<int:device_id>", methods=["PATCH"])
@blp.arguments(PrinterSettingsSchema)
@blp.response(200, DeviceSchema)
@blp.alt_response(404, description="Unknown device or print agent")
def patch_device(body: dict, slug: str, device_id: int) -> dict:
    """Rename a device, or set a kiosk's ``printer`` URL, ``printer_options``, ``print_agent``.

    Only a kiosk prints: another device takes these as null only (400 invalid_input
    otherwise); a printer URL the printer library cannot open is a 400 too.
    """
    site = get_site(db.session, slug)
    require_site_manager(principal(), site)
    device = db.session.get(Device, device_id)
    if device is None or device.site_id != site.id:
        raise errors.NotFound(device=device_id)
    if "name" in body:
        device.name = body["name"].strip()
    configure_printer(db.session, device, body)
    db.session.commit()
    current_app.logger.info("device %s printer settings changed", device.id)
    return device_json(device)
