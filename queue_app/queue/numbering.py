"""Ticket numbers: an atomic per-(service, day) counter in the database (invariant 1).

The counter row of a service's day is taken with one upsert that row-locks it
until the issuing transaction ends (SQLite: the transaction holds the writer
lock). Everything a new ticket is told is read after that statement, so it
counts every ticket of the service committed before its number, whichever
process issued them (invariant 8). The same row carries the arrival time of the
last ticket numbered: a new ticket's arrival time is never earlier, so a
service's tickets are called in the order of their numbers even when the
clocks of two requests disagree about who came first.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime

from sqlalchemy import Date, Integer, bindparam, text
from sqlalchemy.orm import Session

from ..models.base import TZDateTime

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud and typed
CODE_LENGTH = 8

# The label: the service's prefix, a dash, the number padded to three digits and
# growing past them (B-007, B-999, B-1000).
LABEL_SEPARATOR = "-"
LABEL_DIGITS = 3

# One statement for both databases, in their common ON CONFLICT syntax. A text()
# statement: SQLAlchemy's dialect insert constructs are not kept in its compiled
# cache (recompiled at every call, a millisecond), and this runs on every ticket.
# The arrival time never goes back (a CASE, as SQLite's max() of a NULL is NULL).
_NEXT_NUMBER = (
    text(
        "INSERT INTO ticket_sequences (service_id, service_day, last_number, last_issued_at) "
        "VALUES (:service_id, :service_day, 1, :now) "
        "ON CONFLICT (service_id, service_day) DO UPDATE SET "
        "last_number = ticket_sequences.last_number + 1, "
        "last_issued_at = CASE "
        "WHEN ticket_sequences.last_issued_at > excluded.last_issued_at "
        "THEN ticket_sequences.last_issued_at ELSE excluded.last_issued_at END "
        "RETURNING last_number, last_issued_at"
    )
    .bindparams(bindparam("service_day", type_=Date()), bindparam("now", type_=TZDateTime()))
    .columns(last_number=Integer(), last_issued_at=TZDateTime())
)


def take_number(
    session: Session, service_id: int, day: date, now: datetime
) -> tuple[int, datetime]:
    """The next number of a service's day and the new ticket's arrival time.

    Row-locks the day's counter until the transaction ends. The arrival time is
    ``now``, or the last ticket's when that is later (another process's clock).
    """
    number, issued_at = session.execute(
        _NEXT_NUMBER, {"service_id": service_id, "service_day": day, "now": now}
    ).one()
    return int(number), issued_at


def format_label(prefix: str, number: int) -> str:
    """The printed and announced label: B-007."""
    return f"{prefix}{LABEL_SEPARATOR}{number:0{LABEL_DIGITS}d}"


def typed_code(code: str) -> str:
    """A tracking code as typed from the paper (K7qx-2mhb, "k7qx 2mhb") as it is stored."""
    return "".join(char for char in code if char.isalnum()).upper()


def new_tracking_code() -> str:
    """A random public tracking code (31^8 ≈ 8.5e11 possibilities)."""
    # One draw from the system's generator for the whole code (not one per letter).
    value = secrets.randbelow(len(CODE_ALPHABET) ** CODE_LENGTH)
    letters = []
    for _ in range(CODE_LENGTH):
        value, index = divmod(value, len(CODE_ALPHABET))
        letters.append(CODE_ALPHABET[index])
    return "".join(letters)
