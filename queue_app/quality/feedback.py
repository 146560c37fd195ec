"""Satisfaction: a citizen rates a served ticket once, on the counter's tablet or on the phone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import (
    Counter,
    Device,
    Feedback,
    FeedbackSource,
    Ticket,
    TicketStatus,
    utcnow,
)
from ..queue import errors
from ..queue.days import zone
from ..realtime import events
from ..realtime.publish import feedback_request_payload

MAX_COMMENT = 1000


class AlreadyRated(errors.Conflict):
    code = "already_rated"
    default_message = _l("This visit has already been rated. Thank you!")


class NotServed(errors.DomainError):
    status = 422
    code = "not_served"
    default_message = _l("A visit can be rated once it is over.")


class FeedbackClosed(errors.DomainError):
    status = 422
    code = "feedback_closed"
    default_message = _l("This visit is too old to be rated now.")


def clean_comment(comment: str | None) -> str | None:
    """A trimmed comment, None when empty; InvalidInput when too long."""
    text = (comment or "").strip()
    if len(text) > MAX_COMMENT:
        raise errors.InvalidInput(field="comment", max_length=MAX_COMMENT)
    return text or None


def is_rated(session: Session, ticket: Ticket) -> bool:
    """Whether the ticket already has its rating."""
    return session.scalar(select(Feedback.id).where(Feedback.ticket_id == ticket.id)) is not None


def can_rate(session: Session, ticket: Ticket, window: timedelta, now: datetime) -> bool:
    """Whether the citizen may still rate this ticket (served, in time, not rated yet)."""
    return (
        ticket.status == TicketStatus.DONE
        and ticket.finished_at is not None
        and now - ticket.finished_at <= window
        and not is_rated(session, ticket)
    )


def record_feedback(
    session: Session,
    ticket: Ticket,
    *,
    rating: Any,
    comment: str | None,
    source: FeedbackSource,
    window: timedelta,
    device: Device | None = None,
    now: datetime | None = None,
) -> Feedback:
    """Record the rating of a served ticket, linked to its service, counter and agent.

    Once per ticket (a second one is AlreadyRated, also when two arrive at once),
    within ``window`` after service. Queues ``feedback_done`` for the counter's tablet.
    """
    now = now or utcnow()
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise errors.InvalidInput(field="rating", min=1, max=5)
    text = clean_comment(comment)
    if ticket.status != TicketStatus.DONE or ticket.finished_at is None:
        raise NotServed(status=ticket.status.value)
    if now - ticket.finished_at > window:
        raise FeedbackClosed()
    if is_rated(session, ticket):
        raise AlreadyRated()
    issued_local = ticket.issued_at.astimezone(zone(ticket.site.timezone))
    feedback = Feedback(
        site_id=ticket.site_id,
        ticket_id=ticket.id,
        service_id=ticket.service_id,
        counter_id=ticket.counter_id,
        agent_id=ticket.agent_id,
        device_id=device.id if device is not None else None,
        source=source,
        rating=rating,
        comment=text,
        service_day=ticket.service_day,
        hour=issued_local.hour,
        created_at=now,
    )
    try:
        # The unique ticket_id settles two ratings sent at the same instant.
        with session.begin_nested():
            session.add(feedback)
    except IntegrityError as exc:
        raise AlreadyRated() from exc
    if ticket.counter_id is not None:
        events.queue(
            session,
            events.FEEDBACK_DONE,
            events.tablet_room(ticket.counter_id),
            {"ticket_id": ticket.id, "label": ticket.label},
        )
    return feedback


def is_last_served_at_its_counter(session: Session, ticket: Ticket) -> bool:
    """Whether the ticket is the last one finished at its counter (what its tablet asks
    about, as :func:`pending_prompt`); True for a ticket not finished at a counter."""
    if ticket.status != TicketStatus.DONE or ticket.counter_id is None:
        return True
    last = session.scalar(
        select(Ticket.id)
        .where(Ticket.counter_id == ticket.counter_id, Ticket.status == TicketStatus.DONE)
        .order_by(Ticket.finished_at.desc(), Ticket.id.desc())
        .limit(1)
    )
    return last == ticket.id


def pending_prompt(
    session: Session, counter: Counter, window: timedelta, now: datetime | None = None
) -> dict[str, Any] | None:
    """What the counter's tablet should ask about now: its last served ticket, if not rated.

    The tablet's fallback when it missed the live ``feedback_request``.
    """
    now = now or utcnow()
    ticket = session.scalar(
        select(Ticket)
        .where(
            Ticket.counter_id == counter.id,
            Ticket.status == TicketStatus.DONE,
            Ticket.finished_at >= now - window,
        )
        .order_by(Ticket.finished_at.desc(), Ticket.id.desc())
        .limit(1)
    )
    if ticket is None or is_rated(session, ticket):
        return None
    return feedback_request_payload(ticket)
