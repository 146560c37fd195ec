"""The complaints register: by deadline; assign, answer (by SMS when a phone was given), close."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response

from ...extensions import db
from ...models import AuditEntry, Complaint, ComplaintStatus, Site, User, utcnow
from ...quality import complaints as domain
from ...queue.errors import DomainError
from ...security.permissions import can_manage_site
from . import actor, bp, managed_sites
from .forms import AnswerForm, AssignForm, RemoveForm, options

STATUS_LABELS = {
    ComplaintStatus.OPEN: _l("New"),
    ComplaintStatus.ASSIGNED: _l("In progress"),
    ComplaintStatus.ANSWERED: _l("Answered"),
    ComplaintStatus.CLOSED: _l("Closed"),
}
FILTERS = {
    "open": _l("To answer"),
    "overdue": _l("Overdue"),
    "answered": _l("Answered"),
    "closed": _l("Closed"),
    "all": _l("All"),
}
PAGE = 100


@bp.get("/complaints")
def complaints() -> Any:
    sites = managed_sites()
    slug = request.args.get("site") or ""
    shown = [s for s in sites if s.slug == slug] or sites
    status = request.args.get("status", "open")
    if status not in FILTERS:
        status = "open"
    now = utcnow()
    statement = select(Complaint).where(Complaint.site_id.in_([s.id for s in shown]))
    if status in ("open", "overdue"):
        statement = statement.where(Complaint.status.in_(domain.OPEN_STATUSES))
        if status == "overdue":
            statement = statement.where(Complaint.due_at < now)
        statement = statement.order_by(Complaint.due_at, Complaint.id)
    else:
        if status != "all":
            statement = statement.where(Complaint.status == ComplaintStatus(status))
        statement = statement.order_by(Complaint.created_at.desc(), Complaint.id.desc())
    rows = db.session.scalars(statement.limit(PAGE)).all()
    users = _users({c.assigned_to_id for c in rows})
    return render_template(
        "admin/complaints.html",
        rows=rows,
        sites=sites,
        site_by_id={s.id: s for s in sites},
        slug=slug if len(shown) == 1 and slug else "",
        status=status,
        filters=FILTERS,
        status_labels=STATUS_LABELS,
        users=users,
        now=now,
        is_overdue=domain.is_overdue,
    )


def _users(ids: set[int | None]) -> dict[int, User]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(wanted)))}


def _complaint(reference: str) -> tuple[Complaint, Site]:
    complaint = domain.get_complaint(db.session, reference)
    site = db.session.get(Site, complaint.site_id)
    if site is None or not can_manage_site(actor(), site):
        abort(403)
    return complaint, site


@bp.get("/complaints/<reference>")
def complaint(reference: str) -> Any:
    item, site = _complaint(reference)
    staff = domain.assignable_staff(db.session, site)
    assign_form = AssignForm(data={"user": str(item.assigned_to_id or "")})
    assign_form.user.choices = options(
        [("", _("Nobody"))] + [(str(u.id), u.display_name) for u in staff]
    )
    answer_form = AnswerForm(data={"answer": item.answer or "", "send_sms": bool(item.phone)})
    history = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.object_type == "complaint", AuditEntry.object_id == str(item.id))
        .order_by(AuditEntry.at)
    ).all()
    service = next((s for s in site.services if s.id == item.service_id), None)
    users = _users({item.assigned_to_id, item.answered_by_id})
    return render_template(
        "admin/complaint.html",
        item=item,
        site=site,
        service=service,
        assign_form=assign_form,
        answer_form=answer_form,
        action_form=RemoveForm(),
        history=history,
        users=users,
        status_labels=STATUS_LABELS,
        status_labels_by_value={k.value: v for k, v in STATUS_LABELS.items()},
        overdue=domain.is_overdue(item, utcnow()),
    )


def _done(reference: str, message: str) -> Response:
    flash(message, "info")
    return redirect(url_for("admin.complaint", reference=reference))


def _refused(reference: str, error: DomainError) -> Response:
    db.session.rollback()
    flash(str(error.message), "error")
    return redirect(url_for("admin.complaint", reference=reference))


@bp.post("/complaints/<reference>/assign")
def complaint_assign(reference: str) -> Response:
    item, site = _complaint(reference)
    form = AssignForm()
    form.user.choices = options(
        [("", "")] + [(str(u.id), u.email) for u in domain.assignable_staff(db.session, site)]
    )
    if not form.validate_on_submit():
        flash(_("Choose someone from the list."), "error")
        return redirect(url_for("admin.complaint", reference=reference))
    user = db.session.get(User, int(form.user.data)) if form.user.data else None
    try:
        domain.assign(db.session, item, user)
        db.session.commit()
    except DomainError as error:
        return _refused(reference, error)
    return _done(reference, _("Assigned.") if user else _("Nobody is assigned any more."))


@bp.post("/complaints/<reference>/answer")
def complaint_answer(reference: str) -> Response:
    item, _site = _complaint(reference)
    form = AnswerForm()
    if not form.validate_on_submit():
        flash(_("Write the answer first."), "error")
        return redirect(url_for("admin.complaint", reference=reference))
    try:
        domain.answer(
            db.session,
            item,
            form.answer.data or "",
            by=actor(),
            send_sms=bool(form.send_sms.data and item.phone),
        )
        db.session.commit()
    except DomainError as error:
        return _refused(reference, error)
    if item.answer_by_sms and item.answer_sms_queued_at is None:
        return _done(reference, _("Answer saved. The SMS will go out once SMS sending is set up."))
    if item.answer_by_sms:
        return _done(reference, _("Answer saved and sent by SMS."))
    return _done(reference, _("Answer saved."))


@bp.post("/complaints/<reference>/close")
def complaint_close(reference: str) -> Response:
    item, _site = _complaint(reference)
    if RemoveForm().validate_on_submit():
        domain.close(db.session, item)
        db.session.commit()
    return _done(reference, _("Closed."))


@bp.post("/complaints/<reference>/reopen")
def complaint_reopen(reference: str) -> Response:
    item, _site = _complaint(reference)
    if RemoveForm().validate_on_submit():
        try:
            domain.reopen(db.session, item)
            db.session.commit()
        except DomainError as error:
            return _refused(reference, error)
    return _done(reference, _("Opened again."))
