"""Personal data in ratings and complaints, erased after the retention period.

What stays is anonymous: ratings, counts, dates and the substance of a
complaint. What goes: the name and phone number a citizen gave, phone numbers
and e-mail addresses typed into comments and complaints, and the citizen's
name where it appears in them. A comment that held such data is erased whole
(a short comment with a number in it is mostly that number).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Complaint, Feedback, utcnow

# Eight digits or more, possibly grouped ("77 123 45 67", "+221 77-123-45-67").
PHONE_RE = re.compile(r"(?:\+|\b00)?\d(?:[\s.\-/]?\d){7,}")
EMAIL_RE = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
REDACTED = "[…]"
BATCH = 500


def holds_personal_data(text: str | None) -> bool:
    """Whether a text contains a phone number or an e-mail address."""
    return bool(text) and bool(PHONE_RE.search(text or "") or EMAIL_RE.search(text or ""))


def redact(text: str | None, name: str | None = None) -> str | None:
    """The text without phone numbers, e-mail addresses and the given name."""
    if text is None:
        return None
    cleaned = EMAIL_RE.sub(REDACTED, text)
    cleaned = PHONE_RE.sub(REDACTED, cleaned)
    if name:
        # The whole name first, then each part of it (longest first).
        parts = sorted({name.strip(), *name.split()}, key=len, reverse=True)
        for part in parts:
            if len(part) >= 3:
                cleaned = re.sub(re.escape(part), REDACTED, cleaned, flags=re.IGNORECASE)
    return cleaned


def purge_feedback_comments(
    session: Session, cutoff: datetime, *, now: datetime | None = None
) -> int:
    """Erase comments holding personal data on ratings given before ``cutoff``; returns how
    many were looked at (each rating is looked at once). Flushes."""
    now = now or utcnow()
    rows = session.scalars(
        select(Feedback)
        .where(Feedback.created_at < cutoff, Feedback.purged_at.is_(None))
        .order_by(Feedback.id)
        .limit(BATCH)
    ).all()
    for feedback in rows:
        if holds_personal_data(feedback.comment):
            feedback.comment = None
        feedback.purged_at = now
    session.flush()
    return len(rows)


def purge_complaints(session: Session, cutoff: datetime, *, now: datetime | None = None) -> int:
    """Erase the name, phone and personal data in the text of complaints filed before
    ``cutoff``; returns how many. Flushes."""
    now = now or utcnow()
    rows = session.scalars(
        select(Complaint)
        .where(Complaint.created_at < cutoff, Complaint.purged_at.is_(None))
        .order_by(Complaint.id)
        .limit(BATCH)
    ).all()
    for complaint in rows:
        complaint.text = redact(complaint.text, complaint.name) or ""
        complaint.answer = redact(complaint.answer, complaint.name)
        complaint.name = None
        complaint.phone = None
        complaint.purged_at = now
    session.flush()
    return len(rows)
