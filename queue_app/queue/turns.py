"""Each process's queue in front of a service's number row (PostgreSQL).

Tickets of one service are numbered one at a time whatever we do: the day's
sequence row stays locked until the issuing transaction ends. Left to
PostgreSQL alone, every waiting request holds a pooled connection and a backend
process that wakes when the row is freed, finds it taken again and sleeps: on a
two-core office server, sixteen kiosks on one service made the slowest 1 % of
tickets wait five times the median. Waiting here instead, in the process, costs
nothing and leaves PostgreSQL at most one waiter per process.

Only an aid, never a guarantee: the row lock keeps the numbers right. A request
that waits longer than ``TURN_TIMEOUT_SECONDS`` goes on without its turn; a
session takes one turn at most (a second ticket in the same transaction waits
on the row lock as before), and gives it back when its transaction ends,
committed or not. SQLite needs none: one writer at a time holds the database.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from ..infra.fifo import FifoLock

TURN_TIMEOUT_SECONDS = 2.0
_SESSION_KEY = "queue_app.turn"


_lines: dict[Hashable, FifoLock] = {}
_lines_guard = threading.Lock()


def _line_for(key: Hashable) -> FifoLock:
    line = _lines.get(key)
    if line is None:
        with _lines_guard:
            line = _lines.setdefault(key, FifoLock())
    return line


class Turn:
    """A held turn (or none: ``held`` False); ``release`` gives it back once."""

    __slots__ = ("_line", "held")

    def __init__(self, line: FifoLock | None, held: bool) -> None:
        self._line = line
        self.held = held

    def release(self) -> None:
        if self.held and self._line is not None:
            self.held = False
            self._line.release()


def take(session: Session, service_id: int) -> bool:
    """Wait for this process's turn on a service's number row (PostgreSQL); whether held.

    The turn is given back when the session's transaction commits (before its
    after-commit pushes) or rolls back. Begins the transaction, so that its end,
    which gives the turn back, is sure to come. SQLite: nothing to wait for.
    """
    bind = session.get_bind()
    if bind.dialect.name != "postgresql" or _SESSION_KEY in session.info:
        return False
    session.connection()
    line = _line_for((id(bind), service_id))
    turn = Turn(line, line.acquire(TURN_TIMEOUT_SECONDS))
    if turn.held:
        session.info[_SESSION_KEY] = turn
    return turn.held


def _give_back(session: Session, *_: object) -> None:
    if session.in_nested_transaction():
        return  # a savepoint ended (SQLAlchemy tells it as a commit): the transaction goes on
    turn = session.info.pop(_SESSION_KEY, None)
    if turn is not None:
        turn.release()


# First of the after-commit listeners: the row is free once COMMIT has returned.
event.listen(Session, "after_commit", _give_back, insert=True)
event.listen(Session, "after_rollback", _give_back)


@event.listens_for(Session, "after_transaction_end")
def _give_back_at_end(session: Session, transaction: SessionTransaction) -> None:
    # Whatever ended the transaction (a close without commit, an error).
    if transaction.parent is None:
        turn = session.info.pop(_SESSION_KEY, None)
        if turn is not None:
            turn.release()
