"""Ticket numbers: an atomic per-(service, day) counter in the database."""

from __future__ import annotations

import secrets
from datetime import date

from sqlalchemy import Date, bindparam, text
from sqlalchemy.orm import Session

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud and typed
CODE_LENGTH = 8


# The same SQL on PostgreSQL and SQLite (3.35+); a text statement, so it is
# compiled once (the dialect upsert constructs are not cacheable).
_NEXT_NUMBER = text(
    "INSERT INTO ticket_sequences (service_id, service_day, last_number) "
    "VALUES (:service_id, :service_day, 1) "
    "ON CONFLICT (service_id, service_day) "
    "DO UPDATE SET last_number = ticket_sequences.last_number + 1 "
    "RETURNING last_number"
).bindparams(bindparam("service_day", type_=Date()))


def next_number(session: Session, service_id: int, day: date) -> int:
    """Take the next number of a service's day; row-locks the sequence until commit.

    One upsert statement: concurrent kiosks and server processes serialise on the
    sequence row, and a rolled-back ticket gives its number back.
    """
    result = session.execute(_NEXT_NUMBER, {"service_id": service_id, "service_day": day})
    return int(result.scalar_one())


def format_label(prefix: str, number: int) -> str:
    """The printed and announced label: B-007."""
    return f"{prefix}-{number:03d}"


def new_tracking_code() -> str:
    """A random public tracking code (31^8 ≈ 8.5e11 possibilities)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
