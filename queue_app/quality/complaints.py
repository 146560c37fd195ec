"""The complaints and suggestions register: filed by citizens, answered by staff in time."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import (
    Complaint,
    ComplaintKind,
    ComplaintStatus,
    Role,
    Service,
    Site,
    User,
    utcnow,
)
from ..queue import errors
from ..queue.numbering import CODE_ALPHABET
from ..queue.phones import mask_phone

log = logging.getLogger(__name__)


class ComplaintStateError(errors.InvalidTransition):
    """The same 422 invalid_transition as a ticket's, saying what it is about."""

    default_message = _l("This change is not allowed in the complaint's current state.")


MIN_TEXT, MAX_TEXT = 10, 4000
MAX_ANSWER = 4000
OPEN_STATUSES = (ComplaintStatus.OPEN, ComplaintStatus.ASSIGNED)

# GSM 03.38 basic character set: a text of these fits 160 characters per SMS;
# any other character (ê, ô, ç, ’…) makes it UCS-2, 70 characters.
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€")


def new_reference() -> str:
    """A random complaint reference, read aloud and typed easily: R7K3F9Q2."""
    return "R" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(7))


def get_complaint(session: Session, reference: str) -> Complaint:
    """The complaint with this reference, else NotFound."""
    complaint = session.scalar(
        select(Complaint).where(Complaint.reference == (reference or "").strip().upper()[:16])
    )
    if complaint is None:
        raise errors.NotFound(reference=reference)
    return complaint


def submit_complaint(
    session: Session,
    site: Site,
    *,
    kind: ComplaintKind,
    text: str,
    answer_days: float,
    name: str | None = None,
    phone: str | None = None,
    service: Service | None = None,
    now: datetime | None = None,
) -> Complaint:
    """File a complaint or suggestion; its deadline is ``answer_days`` later. Flushes.

    ``phone`` must already be in E.164 (queue_app.queue.phones.normalize_phone).
    """
    now = now or utcnow()
    body = (text or "").strip()
    if not MIN_TEXT <= len(body) <= MAX_TEXT:
        raise errors.InvalidInput(field="text", min_length=MIN_TEXT, max_length=MAX_TEXT)
    clean_name = (name or "").strip() or None
    if clean_name is not None and len(clean_name) > 200:
        raise errors.InvalidInput(field="name", max_length=200)
    if service is not None and service.site_id != site.id:
        raise errors.NotFound(service=service.code)
    complaint = Complaint(
        site_id=site.id,
        reference=new_reference(),
        kind=kind,
        status=ComplaintStatus.OPEN,
        text=body,
        name=clean_name,
        phone=phone,
        service_id=service.id if service is not None else None,
        created_at=now,
        due_at=now + timedelta(days=answer_days),
    )
    session.add(complaint)
    session.flush()
    log.info(
        "complaint %s filed at %s (phone %s)", complaint.reference, site.slug, mask_phone(phone)
    )
    return complaint


def assignable_staff(session: Session, site: Site) -> list[User]:
    """Who may be given a complaint of the site: its managers and the admins."""
    users = session.scalars(
        select(User).where(User.is_active.is_(True)).order_by(User.full_name, User.email)
    ).all()
    return [
        user
        for user in users
        if user.role == Role.ADMIN
        or (user.role == Role.MANAGER and any(s.id == site.id for s in user.sites))
    ]


def assign(session: Session, complaint: Complaint, user: User | None) -> Complaint:
    """Give the complaint to a manager of its site (or an admin); None takes it back."""
    if complaint.status == ComplaintStatus.CLOSED:
        raise ComplaintStateError(status=complaint.status.value, action="assign")
    if user is None:
        complaint.assigned_to_id = None
        if complaint.status == ComplaintStatus.ASSIGNED:
            complaint.status = ComplaintStatus.OPEN
        return complaint
    site = session.get(Site, complaint.site_id)
    if site is None or user not in assignable_staff(session, site):
        raise errors.InvalidInput(field="assigned_to", reason="not a manager of this office")
    complaint.assigned_to_id = user.id
    if complaint.status == ComplaintStatus.OPEN:
        complaint.status = ComplaintStatus.ASSIGNED
    return complaint


def answer(
    session: Session,
    complaint: Complaint,
    text: str,
    *,
    by: User,
    send_sms: bool,
    now: datetime | None = None,
) -> Complaint:
    """Record the answer; with ``send_sms`` (and a phone given) it goes to the citizen by SMS."""
    now = now or utcnow()
    if complaint.status == ComplaintStatus.CLOSED:
        raise ComplaintStateError(status=complaint.status.value, action="answer")
    body = (text or "").strip()
    if not body or len(body) > MAX_ANSWER:
        raise errors.InvalidInput(field="answer", max_length=MAX_ANSWER)
    if send_sms and not complaint.phone:
        raise errors.InvalidInput(field="send_sms", reason="no phone number was given")
    complaint.answer = body
    complaint.answered_at = now
    complaint.answered_by_id = by.id
    complaint.status = ComplaintStatus.ANSWERED
    complaint.answer_by_sms = bool(send_sms)
    if send_sms:
        send_answer_sms(session, complaint, now=now)
    return complaint


def close(session: Session, complaint: Complaint, *, now: datetime | None = None) -> Complaint:
    """Close the complaint (answered, or nothing more to do)."""
    complaint.status = ComplaintStatus.CLOSED
    complaint.closed_at = now or utcnow()
    return complaint


def reopen(session: Session, complaint: Complaint) -> Complaint:
    """Open a closed complaint again (the citizen came back)."""
    if complaint.status != ComplaintStatus.CLOSED:
        raise ComplaintStateError(status=complaint.status.value, action="reopen")
    complaint.closed_at = None
    if complaint.answer:
        complaint.status = ComplaintStatus.ANSWERED
    elif complaint.assigned_to_id:
        complaint.status = ComplaintStatus.ASSIGNED
    else:
        complaint.status = ComplaintStatus.OPEN
    return complaint


def is_overdue(complaint: Complaint, now: datetime) -> bool:
    """Not answered yet and past its deadline."""
    return complaint.status in OPEN_STATUSES and complaint.due_at < now


def open_counts(
    session: Session, site_ids: Sequence[int], now: datetime | None = None
) -> dict[int, tuple[int, int]]:
    """(open, overdue) complaints per site id (index on site, status, deadline)."""
    now = now or utcnow()
    rows = session.execute(
        select(
            Complaint.site_id,
            func.count(),
            func.count().filter(Complaint.due_at < now),
        )
        .where(Complaint.site_id.in_(site_ids), Complaint.status.in_(OPEN_STATUSES))
        .group_by(Complaint.site_id)
    ).all()
    found = dict.fromkeys(site_ids, (0, 0))
    for site_id, total, overdue in rows:
        found[site_id] = (int(total), int(overdue))
    return found


# --- the answer by SMS -----------------------------------------------------------------


def fits_one_sms(text: str) -> bool:
    """Whether a text fits one SMS segment (160 GSM-7 characters, or 70 in UCS-2)."""
    if all(char in GSM7 or char in GSM7_EXTENDED for char in text):
        return len(text) + sum(char in GSM7_EXTENDED for char in text) <= 160
    return len(text) <= 70


def answer_sms_body(complaint: Complaint, public_url: str) -> str:
    """The one-segment SMS carrying an answer: the answer itself when it fits, else a link."""
    whole = f"{complaint.reference} : {complaint.answer}"
    if fits_one_sms(whole):
        return whole
    return f"Réponse à votre demande {complaint.reference} : {public_url}/r/{complaint.reference}"


def send_answer_sms(session: Session, complaint: Complaint, *, now: datetime | None = None) -> bool:
    """Queue the answer to the citizen's phone through the SMS outbox; returns whether queued.

    Sent after commit by the outbox job, once (its key names the answer).
    """
    if not complaint.phone or not complaint.answer:
        return False
    from flask import current_app

    from ..sms import outbox

    site = session.get(Site, complaint.site_id)
    if site is None:  # the complaint's office is gone with it (cascade): nothing to send
        return False
    body = answer_sms_body(complaint, str(current_app.config["PUBLIC_URL"]))
    outbox.enqueue(
        session,
        site,
        complaint.phone,
        body,
        kind="complaint_answer",
        key=f"complaint-answer:{complaint.id}:{int(complaint.answered_at.timestamp())}"
        if complaint.answered_at
        else f"complaint-answer:{complaint.id}",
    )
    complaint.answer_sms_queued_at = now or utcnow()
    return True
