"""Satisfaction, complaints, statistics and commitments under /api/v1."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, current_app, request
from sqlalchemy import select

from ..extensions import db, limiter
from ..models import (
    AuditEntry,
    Complaint,
    ComplaintKind,
    ComplaintStatus,
    Device,
    DeviceKind,
    FeedbackSource,
    Role,
    Site,
    User,
    utcnow,
)
from ..quality import commitments as commitments_domain
from ..quality import complaints as complaints_domain
from ..quality.export import report_csv
from ..quality.feedback import is_last_served_at_its_counter, pending_prompt, record_feedback
from ..quality.stats import MAX_RANGE_DAYS, multi_site_report, site_report
from ..queue import errors
from ..queue.days import service_day
from ..queue.phones import normalize_phone
from ..queue.sites import get_counter, get_service, get_site
from ..queue.tickets import get_ticket, get_ticket_by_code
from ..realtime.publish import iso
from ..security.lookup_limits import guards_lookup, refused_api
from ..security.permissions import require_principal, require_site_manager, require_user
from . import ApiBlueprint, principal
from .quality_schemas import (
    AnswerSchema,
    AssignSchema,
    AuditEntrySchema,
    CommitmentItemSchema,
    CommitmentsSchema,
    ComplaintCreateSchema,
    ComplaintListArgs,
    ComplaintReceiptSchema,
    ComplaintSchema,
    FeedbackCreateSchema,
    FeedbackPromptSchema,
    FeedbackSchema,
    RangeArgs,
    StatsSchema,
)

blp = ApiBlueprint("api_quality", __name__, description="Satisfaction, complaints, statistics")

# Reached without credentials (the views check what they need themselves).
PUBLIC_ENDPOINTS = {
    "api_quality.track_feedback",
    "api_quality.submit_complaint",
    "api_quality.commitments",
}


# --- feedback ----------------------------------------------------------------------------


def _feedback_json(feedback: Any) -> dict[str, Any]:
    return {
        "id": feedback.id,
        "ticket_id": feedback.ticket_id,
        "rating": feedback.rating,
        "source": feedback.source.value,
        "created_at": iso(feedback.created_at),
    }


def _tablet(site: Site) -> Device:
    who = require_principal(principal())
    if not (isinstance(who, Device) and who.kind == DeviceKind.TABLET and who.site_id == site.id):
        raise errors.Forbidden(reason="a tablet of this office")
    return who


@blp.route("/tickets/<int:ticket_id>/feedback", methods=["POST"])
@blp.arguments(FeedbackCreateSchema)
@blp.response(201, FeedbackSchema)
@blp.alt_response(
    403,
    description="Not a tablet of the ticket's office, or the counter served another ticket since",
)
@blp.alt_response(409, description="The visit was already rated")
@blp.alt_response(422, description="The ticket is not served yet, or was served too long ago")
@blp.alt_response(400, description="Not a rating from 1 to 5, or a bad comment")
@blp.alt_response(404, description="Unknown ticket")
def ticket_feedback(body: dict, ticket_id: int) -> dict:
    """A rating (1-5) and optional comment from the counter's tablet, right after service."""
    ticket = get_ticket(db.session, ticket_id)
    device = _tablet(ticket.site)
    if not is_last_served_at_its_counter(db.session, ticket):
        # A tablet rates what its counter just served (feedback_request), not the day's visits.
        raise errors.Forbidden(reason="not the last ticket served at its counter")
    feedback = record_feedback(
        db.session,
        ticket,
        rating=body["rating"],
        comment=body.get("comment"),
        source=FeedbackSource.TABLET,
        device=device,
        window=timedelta(minutes=float(current_app.config["FEEDBACK_TABLET_MINUTES"])),
    )
    db.session.commit()
    return _feedback_json(feedback)


def _feedback_limit() -> str:
    return str(current_app.config["RATELIMIT_FEEDBACK"])


@blp.route("/track/<code>/feedback", methods=["POST"])
@limiter.limit(_feedback_limit)
@blp.doc(security=[])
@blp.arguments(FeedbackCreateSchema)
@blp.response(201, FeedbackSchema)
@blp.alt_response(409, description="The visit was already rated")
@blp.alt_response(422, description="The ticket is not served yet, or was served too long ago")
@blp.alt_response(429, description="Too many requests, or too many unknown codes")
@blp.alt_response(400, description="Not a rating from 1 to 5, or a bad comment")
@blp.alt_response(404, description="Unknown tracking code")
@guards_lookup(refused_api)
def track_feedback(body: dict, code: str) -> dict:
    """Public: the citizen rates the visit on the tracking page (once per ticket)."""
    ticket = get_ticket_by_code(db.session, code[:16])
    feedback = record_feedback(
        db.session,
        ticket,
        rating=body["rating"],
        comment=body.get("comment"),
        source=FeedbackSource.WEB,
        window=timedelta(hours=float(current_app.config["FEEDBACK_TRACK_HOURS"])),
    )
    db.session.commit()
    return _feedback_json(feedback)


@blp.route("/counters/<int:counter_id>/feedback-prompt")
@blp.response(200, FeedbackPromptSchema)
@blp.alt_response(204, description="Nothing to rate at this counter now")
@blp.alt_response(403, description="Not a tablet of the counter's office")
@blp.alt_response(404, description="Unknown counter")
def feedback_prompt(counter_id: int) -> Any:
    """The counter's last served ticket still to rate (the tablet's fallback poll)."""
    counter = get_counter(db.session, counter_id)
    _tablet(counter.site)
    window = timedelta(minutes=float(current_app.config["FEEDBACK_TABLET_MINUTES"]))
    prompt = pending_prompt(db.session, counter, window)
    if prompt is None:
        return "", 204
    return prompt


# --- complaints --------------------------------------------------------------------------


def complaint_json(complaint: Complaint, *, site: Site | None = None) -> dict[str, Any]:
    site = site or db.session.get_one(Site, complaint.site_id)
    service = None
    if complaint.service_id is not None:
        service = next((s for s in site.services if s.id == complaint.service_id), None)
    assignee = db.session.get(User, complaint.assigned_to_id) if complaint.assigned_to_id else None
    return {
        "reference": complaint.reference,
        "site": site.slug if site else None,
        "kind": complaint.kind.value,
        "status": complaint.status.value,
        "text": complaint.text,
        "service": service.code if service is not None else None,
        "name": complaint.name,
        "phone": complaint.phone,
        "created_at": iso(complaint.created_at),
        "due_at": iso(complaint.due_at),
        "overdue": complaints_domain.is_overdue(complaint, utcnow()),
        "assigned_to": assignee.email if assignee is not None else None,
        "answer": complaint.answer,
        "answered_at": iso(complaint.answered_at),
        "answer_by_sms": complaint.answer_by_sms,
        "answer_sms_queued_at": iso(complaint.answer_sms_queued_at),
        "closed_at": iso(complaint.closed_at),
    }


def _complaint_limit() -> str:
    return str(current_app.config["RATELIMIT_COMPLAINTS"])


def file_complaint(site: Site, body: dict[str, Any]) -> Complaint:
    """File a complaint from a form or JSON body (shared by the API and the public page)."""
    phone = None
    if body.get("phone"):
        phone = normalize_phone(body["phone"], current_app.config["DEFAULT_PHONE_REGION"])
    service = get_service(db.session, site, body["service"]) if body.get("service") else None
    return complaints_domain.submit_complaint(
        db.session,
        site,
        kind=ComplaintKind(body.get("kind") or ComplaintKind.COMPLAINT.value),
        text=body["text"],
        name=body.get("name"),
        phone=phone,
        service=service,
        answer_days=float(current_app.config["COMPLAINT_ANSWER_DAYS"]),
    )


@blp.route("/sites/<slug>/complaints", methods=["POST"])
@limiter.limit(_complaint_limit)
@blp.doc(security=[])
@blp.arguments(ComplaintCreateSchema)
@blp.response(201, ComplaintReceiptSchema)
@blp.alt_response(429, description="Too many complaints from this address; try later")
@blp.alt_response(400, description="Too short a text, a bad phone number or kind")
@blp.alt_response(404, description="Unknown office or service")
def submit_complaint(body: dict, slug: str) -> dict:
    """Public: file a complaint or a suggestion; the answer gives its reference."""
    site = get_site(db.session, slug)
    complaint = file_complaint(site, body)
    db.session.commit()
    return {
        "reference": complaint.reference,
        "kind": complaint.kind.value,
        "due_at": iso(complaint.due_at),
        "status_url": f"{current_app.config['PUBLIC_URL']}/r/{complaint.reference}",
    }


@blp.route("/sites/<slug>/complaints", methods=["GET"])
@blp.arguments(ComplaintListArgs, location="query")
@blp.response(200, ComplaintSchema(many=True))
@blp.alt_response(403, description="Not a manager of this office")
@blp.alt_response(404, description="Unknown office")
def list_complaints(args: dict, slug: str) -> list[dict]:
    """The register of a site, oldest deadline first (managers of the site, admins)."""
    site = get_site(db.session, slug)
    require_site_manager(principal(), site)
    statement = select(Complaint).where(Complaint.site_id == site.id)
    status = args["status"]
    if status in ("open", "overdue"):
        statement = statement.where(Complaint.status.in_(complaints_domain.OPEN_STATUSES))
        if status == "overdue":
            statement = statement.where(Complaint.due_at < utcnow())
    elif status != "all":
        statement = statement.where(Complaint.status == ComplaintStatus(status))
    rows = db.session.scalars(statement.order_by(Complaint.due_at, Complaint.id).limit(500))
    return [complaint_json(c, site=site) for c in rows]


def _managed_complaint(reference: str) -> tuple[Complaint, User]:
    # A device learns nothing of complaints, not even whether a reference exists.
    require_user(principal())
    complaint = complaints_domain.get_complaint(db.session, reference)
    site = db.session.get(Site, complaint.site_id)
    user = require_site_manager(principal(), site)  # type: ignore[arg-type]
    return complaint, user


@blp.route("/complaints/<reference>")
@blp.response(200, ComplaintSchema)
@blp.alt_response(403, description="Not a manager of its office")
@blp.alt_response(404, description="Unknown reference")
def get_complaint(reference: str) -> dict:
    """One complaint (managers of its site, admins)."""
    complaint, _user = _managed_complaint(reference)
    return complaint_json(complaint)


@blp.route("/complaints/<reference>/assign", methods=["POST"])
@blp.arguments(AssignSchema)
@blp.response(200, ComplaintSchema)
@blp.alt_response(422, description="The complaint is closed")
@blp.alt_response(400, description="Not a manager of its office")
@blp.alt_response(403, description="Not a manager of its office")
@blp.alt_response(404, description="Unknown reference or user")
def assign_complaint(body: dict, reference: str) -> dict:
    """Give the complaint to a manager of its office (or an admin); null takes it back."""
    complaint, _user = _managed_complaint(reference)
    assignee = None
    if body["user"]:
        assignee = db.session.scalar(select(User).where(User.email == body["user"].lower()))
        if assignee is None:
            raise errors.NotFound(user=body["user"])
    complaints_domain.assign(db.session, complaint, assignee)
    db.session.commit()
    return complaint_json(complaint)


@blp.route("/complaints/<reference>/answer", methods=["POST"])
@blp.arguments(AnswerSchema)
@blp.response(200, ComplaintSchema)
@blp.alt_response(422, description="The complaint is closed")
@blp.alt_response(400, description="No answer, or no phone to send it to")
@blp.alt_response(403, description="Not a manager of its office")
@blp.alt_response(404, description="Unknown reference")
def answer_complaint(body: dict, reference: str) -> dict:
    """Answer the complaint; with send_sms the answer goes to the citizen's phone."""
    complaint, user = _managed_complaint(reference)
    complaints_domain.answer(
        db.session, complaint, body["answer"], by=user, send_sms=body["send_sms"]
    )
    db.session.commit()
    return complaint_json(complaint)


@blp.route("/complaints/<reference>/close", methods=["POST"])
@blp.response(200, ComplaintSchema)
@blp.alt_response(403, description="Not a manager of its office")
@blp.alt_response(404, description="Unknown reference")
def close_complaint(reference: str) -> dict:
    """Close the complaint."""
    complaint, _user = _managed_complaint(reference)
    complaints_domain.close(db.session, complaint)
    db.session.commit()
    return complaint_json(complaint)


@blp.route("/complaints/<reference>/reopen", methods=["POST"])
@blp.response(200, ComplaintSchema)
@blp.alt_response(422, description="The complaint is not closed")
@blp.alt_response(403, description="Not a manager of its office")
@blp.alt_response(404, description="Unknown reference")
def reopen_complaint(reference: str) -> dict:
    """Open a closed complaint again."""
    complaint, _user = _managed_complaint(reference)
    complaints_domain.reopen(db.session, complaint)
    db.session.commit()
    return complaint_json(complaint)


# --- statistics --------------------------------------------------------------------------


def wants_csv(args: dict[str, Any]) -> bool:
    if args.get("format"):
        return bool(args["format"] == "csv")
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return best == "text/csv"


def csv_response(report: dict[str, Any], name: str) -> Response:
    response = Response(report_csv(report), mimetype="text/csv")
    filename = f"guichet-{name}-{report['from']}-{report['to']}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def stats_range(args: dict[str, Any], site: Site) -> tuple[Any, Any]:
    today = service_day(site, utcnow())
    first = args.get("first") or today
    last = args.get("last") or max(first, today)
    return first, last


# The figures as JSON, or as CSV (Accept: text/csv, or ?format=csv).
STATS_CONTENT = {
    "application/json": {"schema": StatsSchema},
    "text/csv": {"schema": {"type": "string"}},
}
RANGE_RULE = (
    " `to` may not be before `from`, and a range spans at most "
    f"{MAX_RANGE_DAYS} days (else 400 invalid_input)."
)


@blp.route("/sites/<slug>/stats")
@blp.arguments(RangeArgs, location="query")
@blp.response(200, StatsSchema)
@blp.alt_response(400, description="A bad date or range")
@blp.doc(
    responses={200: {"content": STATS_CONTENT}},
    description="Site-local days from..to (default: today). `Accept: text/csv` (or "
    "`?format=csv`) gives the same figures as CSV. Medians and 90th percentiles are "
    "in whole minutes waited." + RANGE_RULE,
)
@blp.alt_response(403, description="Not a manager of this office")
@blp.alt_response(404, description="Unknown office")
def site_stats(args: dict, slug: str) -> Any:
    """Statistics of a site from the ticket event log (managers of the site, admins)."""
    site = get_site(db.session, slug)
    require_site_manager(principal(), site)
    first, last = stats_range(args, site)
    report = site_report(db.session, site, first, last)
    if wants_csv(args):
        return csv_response(report, site.slug)
    return report


@blp.route("/stats")
@blp.arguments(RangeArgs, location="query")
@blp.response(200, StatsSchema)
@blp.alt_response(400, description="A bad date or range")
@blp.doc(
    responses={200: {"content": STATS_CONTENT}},
    description="Site-local days from..to (default: today), as for one site; "
    "`Accept: text/csv` (or `?format=csv`) gives CSV." + RANGE_RULE,
)
@blp.alt_response(403, description="Not an admin or a manager")
@blp.alt_response(404, description="The caller works at no site")
def all_stats(args: dict) -> Any:
    """Statistics across the caller's sites: every site, nationally, for an admin."""
    user = require_user(principal(), Role.ADMIN, Role.MANAGER)
    sites = (
        list(db.session.scalars(select(Site).order_by(Site.name)))
        if user.role == Role.ADMIN
        else list(user.sites)
    )
    if not sites:
        raise errors.NotFound(site=None)
    first, last = stats_range(args, sites[0])
    report = multi_site_report(db.session, sites, first, last)
    if wants_csv(args):
        return csv_response(report, "all")
    return report


# --- commitments and audit ---------------------------------------------------------------


def commitments_json(site: Site) -> dict[str, Any]:
    first, last = commitments_domain.previous_month(site, utcnow())
    measured = commitments_domain.measure(db.session, site, first, last)
    return {
        "site": site.slug,
        "site_name": site.name,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "commitments": [commitments_domain.result_json(m) for m in measured],
    }


@blp.route("/sites/<slug>/commitments", methods=["GET"])
@blp.doc(security=[])
@blp.response(200, CommitmentsSchema)
@blp.alt_response(404, description="Unknown office")
def commitments(slug: str) -> dict:
    """Public: the office's commitments and last month's measured results."""
    return commitments_json(get_site(db.session, slug))


@blp.route("/sites/<slug>/commitments", methods=["PUT"])
@blp.arguments(CommitmentItemSchema(many=True))
@blp.response(200, CommitmentsSchema)
@blp.alt_response(400, description="A bad kind, limit, share or service")
@blp.alt_response(403, description="Not a manager of this office")
@blp.alt_response(404, description="Unknown office or service")
def put_commitments(body: list, slug: str) -> dict:
    """Replace the office's published commitments (managers of the site, admins)."""
    site = get_site(db.session, slug)
    require_site_manager(principal(), site)
    commitments_domain.set_commitments(db.session, site, body)
    db.session.commit()
    return commitments_json(site)


@blp.route("/sites/<slug>/audit")
@blp.response(200, AuditEntrySchema(many=True))
@blp.alt_response(403, description="Not a manager of this office")
@blp.alt_response(404, description="Unknown office")
def site_audit(slug: str) -> list[dict]:
    """The latest configuration changes of a site: who, when, before and after."""
    site = get_site(db.session, slug)
    require_site_manager(principal(), site)
    rows = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.site_id == site.id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(200)
    )
    return [
        {
            "at": iso(e.at),
            "actor": e.actor,
            "action": e.action,
            "object_type": e.object_type,
            "object_id": e.object_id,
            "object_label": e.object_label,
            "changes": e.changes,
        }
        for e in rows
    ]
