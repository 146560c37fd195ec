"""Public quality pages: the counter's satisfaction tablet, the complaint form and its
answer, the published commitments, and the rating on the tracking page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from ..extensions import db, limiter
from ..models import Device, DeviceKind, Ticket, utcnow
from ..ops.devices import seen
from ..quality import commitments as commitments_domain
from ..quality.complaints import get_complaint, is_overdue
from ..quality.feedback import can_rate, is_rated
from ..queue.accounts import resolve_token
from ..queue.errors import DomainError, NotFound
from ..queue.sites import get_counter, get_site
from ..security.lookup_limits import guards_lookup, refused_page

bp = Blueprint("quality", __name__)

FACES = (
    (1, "very-unhappy"),
    (2, "unhappy"),
    (3, "neutral"),
    (4, "happy"),
    (5, "very-happy"),
)


def face_labels() -> dict[int, str]:
    return {
        1: _("Very dissatisfied"),
        2: _("Dissatisfied"),
        3: _("So-so"),
        4: _("Satisfied"),
        5: _("Very satisfied"),
    }


@bp.app_template_global()
def rating_state(code: str) -> dict[str, Any]:
    """Whether the tracking page of a ticket asks for a rating (used by public/track.html)."""
    ticket = db.session.scalar(select(Ticket).where(Ticket.code == code))
    if ticket is None:
        return {"can_rate": False, "rated": False}
    window = timedelta(hours=float(current_app.config["FEEDBACK_TRACK_HOURS"]))
    return {
        "can_rate": can_rate(db.session, ticket, window, utcnow()),
        "rated": is_rated(db.session, ticket),
        "faces": FACES,
        "labels": face_labels(),
    }


@bp.get("/feedback/<int:counter_id>")
def tablet(counter_id: int) -> Any:
    """The satisfaction tablet of a counter (a tablet device's token, once in the address)."""
    try:
        counter = get_counter(db.session, counter_id)
    except NotFound:
        abort(404)
    token = request.args.get("token")
    if token:
        device = resolve_token(db.session, token)
        if not (
            isinstance(device, Device)
            and device.kind == DeviceKind.TABLET
            and device.site_id == counter.site_id
        ):
            return render_template("tablet/refused.html", counter=counter), 403
        seen(device)
    labels = face_labels()
    config = {
        "counter": counter.id,
        "site": counter.site.slug,
        "promptUrl": f"/api/v1/counters/{counter.id}/feedback-prompt",
        "feedbackUrl": "/api/v1/tickets/{id}/feedback",
        "askSeconds": 120,
        "thanksSeconds": 6,
        "commentSeconds": 45,
        "pollSeconds": 15,
    }
    response = current_app.make_response(
        render_template(
            "tablet/tablet.html",
            counter=counter,
            site=counter.site,
            faces=FACES,
            labels=labels,
            config=config,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _complaint_limit() -> str:
    return str(current_app.config["RATELIMIT_COMPLAINTS"])


@bp.errorhandler(CSRFError)
def _form_expired(error: CSRFError) -> Any:
    """The public form was left open too long: nothing was sent; it comes back filled in."""
    slug = (request.view_args or {}).get("slug")
    if request.endpoint != "quality.complaint_form" or not slug:
        abort(400)
    site, form = _complaint_form(slug)
    form.text.errors = [_("The page had expired: your message was not sent. Send it again.")]
    return render_template("quality/complaint_form.html", site=site, form=form), 400


def _complaint_form(slug: str) -> tuple[Any, Any]:
    from .admin.forms import ComplaintPublicForm, options

    try:
        site = get_site(db.session, slug)
    except NotFound:
        abort(404)
    form = ComplaintPublicForm()
    form.service.choices = options(
        [("", _("Not about one service"))]
        + [(s.code, s.name_in(_locale())) for s in site.services if s.is_active]
    )
    return site, form


@bp.route("/sites/<slug>/complaints", methods=["GET", "POST"])
@limiter.limit(_complaint_limit, methods=["POST"])
def complaint_form(slug: str) -> Any:
    """The public complaints and suggestions form of an office (no sign-in)."""
    from ..api.quality import file_complaint

    site, form = _complaint_form(slug)
    if form.validate_on_submit():
        try:
            complaint = file_complaint(
                site,
                {
                    "kind": form.kind.data,
                    "text": form.text.data,
                    "name": form.name.data,
                    "phone": form.phone.data,
                    "service": form.service.data or None,
                },
            )
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            field = str(error.details.get("field", ""))
            target = form._fields.get(field, form.text)
            target.errors = [*target.errors, str(error.message)]
        else:
            return render_template("quality/complaint_done.html", site=site, complaint=complaint)
    return render_template("quality/complaint_form.html", site=site, form=form), (
        400 if form.errors else 200
    )


def _locale() -> str:
    from .helpers import current_locale

    return current_locale()


@bp.get("/r/<reference>")
@guards_lookup(refused_page)
def complaint_status(reference: str) -> Any:
    """Where the citizen follows a complaint and reads the answer (by its reference)."""
    try:
        complaint = get_complaint(db.session, reference)
    except NotFound:
        return render_template("quality/complaint_unknown.html", reference=reference[:16]), 404
    from ..models import Site

    site = db.session.get(Site, complaint.site_id)
    return render_template(
        "quality/complaint_status.html",
        site=site,
        complaint=complaint,
        overdue=is_overdue(complaint, utcnow()),
    )


@bp.get("/sites/<slug>/commitments")
def commitments(slug: str) -> Any:
    """The office's published commitments and last month's results, for anyone."""
    try:
        site = get_site(db.session, slug)
    except NotFound:
        abort(404)
    first, last = commitments_domain.previous_month(site, utcnow())
    measured = commitments_domain.measure(db.session, site, first, last)
    return render_template(
        "quality/commitments.html",
        site=site,
        measured=measured,
        describe=commitments_domain.describe,
        first=first,
        last=last,
    )
