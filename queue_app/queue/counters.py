"""Counter operations: an agent opens (takes), pauses and closes a counter."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Counter, CounterState, User, utcnow
from . import changes, errors
from .calling import current_ticket, lock_counter


def open_counter(
    session: Session, counter: Counter, agent: User, *, now: datetime | None = None
) -> Counter:
    """The agent takes the counter (or resumes after a pause); row-locks it.

    An agent holds one counter: taking another releases the first, unless a
    ticket is still in progress there. Another agent's counter is refused.
    """
    now = now or utcnow()
    counter = lock_counter(session, counter.id)
    if counter.agent_id is not None and counter.agent_id != agent.id:
        raise errors.CounterTaken(counter=counter.name)
    held = session.scalars(
        select(Counter).where(Counter.agent_id == agent.id, Counter.id != counter.id)
    ).all()
    for other in held:
        _release(session, other, now)
    # Release first: the unique index allows one counter per agent.
    session.flush()
    counter.agent_id = agent.id
    counter.state = CounterState.OPEN
    counter.pause_reason = None
    counter.state_changed_at = now
    session.flush()
    changes.counter_changed(session, counter.id)
    return counter


def pause_counter(
    session: Session, counter: Counter, reason: str | None, *, now: datetime | None = None
) -> Counter:
    """No more calls at this counter until it is opened again."""
    now = now or utcnow()
    counter = lock_counter(session, counter.id)
    if counter.state == CounterState.CLOSED:
        raise errors.CounterNotOpen(state=counter.state.value)
    counter.state = CounterState.PAUSED
    counter.pause_reason = (reason or "").strip()[:200] or None
    counter.state_changed_at = now
    changes.counter_changed(session, counter.id)
    return counter


def close_counter(session: Session, counter: Counter, *, now: datetime | None = None) -> Counter:
    """The agent leaves the counter; refused while a ticket is in progress there."""
    now = now or utcnow()
    counter = lock_counter(session, counter.id)
    _release(session, counter, now)
    return counter


def _release(session: Session, counter: Counter, now: datetime) -> None:
    ticket = current_ticket(session, counter)
    if ticket is not None:
        raise errors.TicketInProgress(counter=counter.name, ticket=ticket.label)
    counter.state = CounterState.CLOSED
    counter.agent_id = None
    counter.pause_reason = None
    counter.state_changed_at = now
    changes.counter_changed(session, counter.id)
