"""Ticket numbers: an atomic per-(service, day) counter in the database."""

from __future__ import annotations

import secrets
from datetime import date

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..models import TicketSequence

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud and typed
CODE_LENGTH = 8


def next_number(session: Session, service_id: int, day: date) -> int:
    """Take the next number of a service's day; row-locks the sequence until commit.

    One upsert statement: concurrent kiosks and server processes serialise on the
    sequence row, and a rolled-back ticket gives its number back.
    """
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite if dialect == "sqlite" else None
    if module is None:
        raise RuntimeError(f"unsupported database {dialect}")
    stmt = module.insert(TicketSequence).values(
        service_id=service_id, service_day=day, last_number=1
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[TicketSequence.service_id, TicketSequence.service_day],
        set_={"last_number": TicketSequence.last_number + 1},
    ).returning(TicketSequence.last_number)
    return int(session.execute(stmt).scalar_one())


def format_label(prefix: str, number: int) -> str:
    """The printed and announced label: B-007."""
    return f"{prefix}-{number:03d}"


def new_tracking_code() -> str:
    """A random public tracking code (31^8 ≈ 8.5e11 possibilities)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
