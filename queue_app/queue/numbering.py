"""Ticket numbers: an atomic per-(service, day) counter in the database."""

from __future__ import annotations

import secrets

from .estimates import AHEAD_COLUMNS_SQL, wait_minutes_sql
from .rawsql import Statement

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud and typed
CODE_LENGTH = 8


# The label, defined once: the service's prefix, a dash, the number padded to
# three digits and growing past them (B-007, B-999, B-1000). format_label is it
# in Python; label_sql writes the same in SQL that PostgreSQL and SQLite share,
# for statements that number and insert a ticket in one go.
LABEL_SEPARATOR = "-"
LABEL_DIGITS = 3


def format_label(prefix: str, number: int) -> str:
    """The printed and announced label: B-007."""
    return f"{prefix}{LABEL_SEPARATOR}{number:0{LABEL_DIGITS}d}"


def label_sql(prefix: str, number: str) -> str:
    """:func:`format_label` as a SQL expression over two SQL operands (e.g. ``:prefix``)."""
    bound = 10**LABEL_DIGITS
    # 7 → '1007' → '007': zero padding with functions both databases have.
    return (
        f"{prefix} || '{LABEL_SEPARATOR}' || CASE WHEN {number} < {bound} "
        f"THEN substr(CAST({bound} + {number} AS TEXT), 2) "
        f"ELSE CAST({number} AS TEXT) END"
    )


# PostgreSQL: the number, the ticket and its "issued" event in one statement, so
# the sequence row stays locked for this statement and the commit only: kiosks
# issuing for the same service then wait for each other as little as possible.
# A rolled-back ticket still gives its number back. (SQLite cannot modify data
# in a WITH clause; there one writer at a time holds the database anyway, and
# the same work takes the three statements below.) Plain SQL (rawsql.py).
# The people ahead are read in the same statement (one round trip less): its
# snapshot is taken before the ticket exists, as a separate read before it would be.
ISSUE_POSTGRESQL = Statement(
    f"""
    WITH ahead AS (
        SELECT {AHEAD_COLUMNS_SQL}
    ), number AS (
        INSERT INTO ticket_sequences (service_id, service_day, last_number)
        VALUES (:service_id, :service_day, 1)
        ON CONFLICT (service_id, service_day)
        DO UPDATE SET last_number = ticket_sequences.last_number + 1
        RETURNING last_number
    ), ticket AS (
        INSERT INTO tickets (
            site_id, service_id, issued_service_id, service_day, number, label, code,
            priority_class, priority_rank, source, status, phone, device_id,
            issued_at, queued_at, recall_count, transfer_count
        )
        SELECT :site_id, :service_id, :service_id, :service_day, last_number,
               {label_sql(":prefix", "last_number")},
               :code, :priority_class, :priority_rank, :source, 'waiting', :phone,
               :device_id, :now, :now, 0, 0
        FROM number
        RETURNING id, number
    ), issued AS (
        INSERT INTO ticket_events (
            ticket_id, site_id, service_id, kind, from_status, to_status,
            user_id, device_id, at, data
        )
        SELECT id, :site_id, :service_id, 'issued', NULL, 'waiting',
               :user_id, :device_id, :now,
               json_build_object('number', number, 'estimate', (
                   SELECT {wait_minutes_sql("position", "seconds", "counters")} FROM ahead))
        FROM ticket
    )
    SELECT ticket.id, ticket.number, ahead.position, ahead.counters, ahead.seconds
    FROM ticket, ahead
    """  # noqa: S608 - label_sql and the estimates' SQL interpolate constants, never input
)

# SQLite: the number (row-locks nothing: the transaction holds the writer lock).
NEXT_NUMBER_SQLITE = Statement(
    "INSERT INTO ticket_sequences (service_id, service_day, last_number) "
    "VALUES (:service_id, :service_day, 1) "
    "ON CONFLICT (service_id, service_day) "
    "DO UPDATE SET last_number = ticket_sequences.last_number + 1 "
    "RETURNING last_number"
)

INSERT_TICKET_SQLITE = Statement(
    "INSERT INTO tickets ("
    "site_id, service_id, issued_service_id, service_day, number, label, code, "
    "priority_class, priority_rank, source, status, phone, device_id, "
    "issued_at, queued_at, recall_count, transfer_count) "
    "VALUES (:site_id, :service_id, :service_id, :service_day, :number, :label, :code, "
    ":priority_class, :priority_rank, :source, 'waiting', :phone, :device_id, "
    ":now, :now, 0, 0)"
)

INSERT_ISSUED_EVENT_SQLITE = Statement(
    "INSERT INTO ticket_events ("
    "ticket_id, site_id, service_id, kind, from_status, to_status, user_id, device_id, at, data) "
    "VALUES (:ticket_id, :site_id, :service_id, 'issued', NULL, 'waiting', :user_id, "
    ":device_id, :now, :data)"
)


def new_tracking_code() -> str:
    """A random public tracking code (31^8 ≈ 8.5e11 possibilities)."""
    # One draw from the system's generator for the whole code (not one per letter).
    value = secrets.randbelow(len(CODE_ALPHABET) ** CODE_LENGTH)
    letters = []
    for _ in range(CODE_LENGTH):
        value, index = divmod(value, len(CODE_ALPHABET))
        letters.append(CODE_ALPHABET[index])
    return "".join(letters)
