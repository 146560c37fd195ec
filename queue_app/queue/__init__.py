"""Domain operations: plain functions over a SQLAlchemy session.

Each takes a session (and the acting user or device), changes rows, flushes,
appends ticket events and queues realtime events; the caller commits.
"""

from .accounts import authenticate, create_device, create_user, issue_api_token, resolve_token
from .actors import SYSTEM, Actor
from .calling import call_next, current_ticket
from .counters import close_counter, open_counter, pause_counter
from .day_close import close_day
from .estimates import position_of, waiting_counts
from .policy import Candidate, choose_next
from .tickets import (
    cancel,
    finish,
    get_ticket,
    get_ticket_by_code,
    issue_ticket,
    mark_no_show,
    recall,
    start,
    transfer,
)

__all__ = [
    "SYSTEM",
    "Actor",
    "Candidate",
    "authenticate",
    "call_next",
    "cancel",
    "choose_next",
    "close_counter",
    "close_day",
    "create_device",
    "create_user",
    "current_ticket",
    "finish",
    "get_ticket",
    "get_ticket_by_code",
    "issue_api_token",
    "issue_ticket",
    "mark_no_show",
    "open_counter",
    "pause_counter",
    "position_of",
    "recall",
    "resolve_token",
    "start",
    "transfer",
    "waiting_counts",
]
