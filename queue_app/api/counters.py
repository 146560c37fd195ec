"""Counters at work: open (take), pause, close, call the next ticket."""

from __future__ import annotations

from typing import Any

from ..extensions import db
from ..queue import Actor, call_next, close_counter, open_counter, pause_counter
from ..queue.calling import current_ticket, lock_counter
from ..queue.sites import cached_site, get_counter
from ..security.permissions import (
    require_counter_operator,
    require_counter_taker,
    require_site_staff,
)
from . import ApiBlueprint, json_answer, principal
from .schemas import CounterSchema, PauseSchema, TicketSchema
from .serialize import counter_json, ticket_json

blp = ApiBlueprint("api_counters", __name__, description="Counters at work")


def _counter_answer(counter: Any) -> dict:
    ticket = current_ticket(db.session, counter)
    return counter_json(counter, ticket.label if ticket else None)


@blp.route("/counters/<int:counter_id>")
@blp.response(200, CounterSchema)
def get_one(counter_id: int) -> dict:
    """A counter: state, agent, services, current ticket."""
    counter = get_counter(db.session, counter_id)
    require_site_staff(principal(), counter.site)
    return _counter_answer(counter)


@blp.route("/counters/<int:counter_id>/open", methods=["POST"])
@blp.response(200, CounterSchema)
@blp.alt_response(409, description="Another agent holds this counter")
def open_(counter_id: int) -> dict:
    """Take the counter (or resume after a pause): the caller becomes its agent."""
    # Locked before the permission check, so the agent checked is still the holder.
    counter = lock_counter(db.session, counter_id)
    user = require_counter_taker(principal(), counter)
    counter = open_counter(db.session, counter, user)
    db.session.commit()
    return _counter_answer(counter)


@blp.route("/counters/<int:counter_id>/pause", methods=["POST"])
@blp.arguments(PauseSchema, required=False)
@blp.response(200, CounterSchema)
@blp.alt_response(422, description="The counter is not open")
def pause(body: dict, counter_id: int) -> dict:
    """Pause the counter (no calls until it is opened again), with a reason."""
    # Locked before the permission check, so the agent checked is still the holder.
    counter = lock_counter(db.session, counter_id)
    require_counter_operator(principal(), counter)
    counter = pause_counter(db.session, counter, body.get("reason"))
    db.session.commit()
    return _counter_answer(counter)


@blp.route("/counters/<int:counter_id>/close", methods=["POST"])
@blp.response(200, CounterSchema)
@blp.alt_response(422, description="A ticket is still in progress at this counter")
def close(counter_id: int) -> dict:
    """Leave the counter."""
    # Locked before the permission check, so the agent checked is still the holder.
    counter = lock_counter(db.session, counter_id)
    require_counter_operator(principal(), counter)
    counter = close_counter(db.session, counter)
    db.session.commit()
    return _counter_answer(counter)


@blp.route("/counters/<int:counter_id>/call-next", methods=["POST"])
@blp.response(200, TicketSchema)
@blp.alt_response(204, description="Nothing is waiting for this counter's services")
@blp.alt_response(422, description="The counter is not open")
def call_next_view(counter_id: int) -> Any:
    """Call the next ticket (the ticket in progress at this counter is finished first)."""
    # Locked before the permission check, so the agent checked is still the holder.
    counter = lock_counter(db.session, counter_id)
    # The site from the per-process cache: counter.site is then no statement.
    cached_site(db.session, counter.site_id)
    user = require_counter_operator(principal(), counter)
    ticket = call_next(db.session, counter, actor=Actor(user=user), locked=True)
    db.session.commit()
    if ticket is None:
        return "", 204
    return json_answer(ticket_json(ticket, None, None))
