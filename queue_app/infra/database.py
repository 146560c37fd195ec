"""Engine set-up per database: SQLite gets WAL and serialised write transactions.

On SQLite every transaction either writes or only reads, decided when it
begins. A writing transaction holds the process's writer lock from its BEGIN
to its COMMIT, so that two agents calling "next" run one after the other. A
reading transaction takes no lock at all (WAL): board reads of displays, GET
requests, Socket.IO handlers, the state publisher and password checks never
wait for a writer. Which one a transaction is comes from the context:

* GET, HEAD and OPTIONS requests read only (a hook of the app, run before any
  other hook can touch the database);
* :func:`read_only` blocks and :func:`reads_only` functions (Socket.IO handlers,
  the publisher) read only;
* :func:`read_transaction` runs a block in a reading transaction of its own,
  ended with the block (the password check of a sign-in, before it writes);
* :func:`writable` lets a reading context write in a transaction of its own
  (a GET that must record something); everything else writes.

A reading transaction on SQLite refuses INSERT, UPDATE and DELETE
(:class:`WriteInReadOnlyTransaction`): upgrading it to a writer would skip the
writer lock and fail under load with "database is locked". PostgreSQL needs
none of this (row locks, MVCC): there the context changes nothing.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from flask import Flask
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session

from ..extensions import db
from .fifo import FifoLock

# Whether transactions begun in the current context only read. Readers on
# SQLite start deferred (no write lock); everything else takes the write lock.
_read_only: ContextVar[bool] = ContextVar("queue_app_read_only", default=False)
_HOLDS_WRITER = "queue_app_holds_writer"
_READING = "queue_app_reading"
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")

P = ParamSpec("P")
R = TypeVar("R")


class WriteInReadOnlyTransaction(RuntimeError):
    """A statement tried to write in a transaction begun as read-only (SQLite)."""


class WriterBusy(sa_exc.TimeoutError):
    """SQLite's writer lock was not free in time: the request is answered 503 with Retry-After."""


# How long a writing transaction waits for the process's writer lock (SQLite).
WRITER_TIMEOUT_SECONDS = 10.0

# The release of the writer lock held by the current context's transaction, if any.
_held_writer: ContextVar[Callable[[], None] | None] = ContextVar(
    "queue_app_held_writer", default=None
)


def _release_writer_after_commit(session: Session, *_: object) -> None:
    """Hand SQLite's writer lock on as soon as the transaction has ended.

    First among the session's after-commit listeners: the pushes and Redis
    publishes that follow a commit (events.py) run without the lock.
    """
    if session.in_nested_transaction():
        return  # a savepoint ended (SQLAlchemy tells it as a commit): the transaction goes on
    release = _held_writer.get()
    if release is not None:
        _held_writer.set(None)
        release()


event.listen(Session, "after_commit", _release_writer_after_commit, insert=True)
event.listen(Session, "after_rollback", _release_writer_after_commit, insert=True)


@contextmanager
def read_only() -> Iterator[None]:
    """Transactions begun inside this block only read (on SQLite: no write lock)."""
    token = _read_only.set(True)
    try:
        yield
    finally:
        _read_only.reset(token)


def reads_only(function: Callable[P, R]) -> Callable[P, R]:
    """Decorator: the transactions the function begins only read (Socket.IO handlers)."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with read_only():
            return function(*args, **kwargs)

    return wrapper


@contextmanager
def read_transaction(session: Session | scoped_session[Session]) -> Iterator[None]:
    """Run the block in a reading transaction of its own, ended when the block ends.

    For slow reads on a path that writes afterwards (a sign-in checks a password
    hash, then records the sign-in): on SQLite no write lock is held meanwhile.
    Objects loaded inside stay usable afterwards (sessions do not expire on
    commit). When the session is already in a transaction, the block runs in it.
    """
    if _in_transaction(session):
        yield
        return
    with read_only():
        try:
            yield
        except BaseException:
            session.rollback()
            raise
        # Nothing was written: this only ends the reading transaction.
        session.commit()


@contextmanager
def writable(session: Session | scoped_session[Session]) -> Iterator[None]:
    """Let a reading context write: transactions begun inside take the write lock.

    Ends the session's open reading transaction first, so the write gets a
    transaction of its own; commit it inside the block.
    """
    if _in_transaction(session):
        session.commit()
    token = _read_only.set(False)
    try:
        yield
    finally:
        _read_only.reset(token)


def _in_transaction(session: Session | scoped_session[Session]) -> bool:
    real = session() if isinstance(session, scoped_session) else session
    return real.in_transaction()


def set_read_only(value: bool) -> None:
    """Mark the current request as reading only (reset at the request's end)."""
    _read_only.set(value)


def configure_engine(app: Flask) -> None:
    """Hook dialect-specific behaviour onto the app's engine."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    elif engine.dialect.name == "postgresql":
        _configure_postgresql(engine)


# A PostgreSQL connection back in the pool less than this long ago is handed out
# without a ping (config.py turns SQLAlchemy's ping-before-every-use off).
PING_AFTER_IDLE_SECONDS = 1.0
_RETURNED_AT = "queue_app.returned_at"


def _configure_postgresql(engine: Engine) -> None:
    """Ping a pooled connection before use only when it sat idle (one round trip less).

    Under load a connection comes back to the pool and goes out again within
    milliseconds: a ping then costs a round trip (0.06-0.17 ms of CPU with
    gevent, depending on the machine: bench/pg_roundtrip.py) and tells nothing.
    After a second of idleness it is pinged as before, so that a database
    restarted meanwhile is noticed before a request uses a dead connection. A
    connection that dies under a statement is still answered 503 and the pool
    renewed (outages.py).
    """

    @event.listens_for(engine, "checkin")
    def on_checkin(dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    # First among the checkout listeners: outages.py's counts a checkout as the
    # database answering, which it only is once the ping passed.
    @event.listens_for(engine, "checkout", insert=True)
    def ping_when_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is not None and time.monotonic() - returned < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool drops this connection and hands out a new one (or fails to connect).
            raise sa_exc.DisconnectionError("the pooled connection is dead") from error
        if not alive:
            raise sa_exc.DisconnectionError("the pooled connection is dead")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (pysqlite's own BEGIN is deferred and
        # late, which breaks savepoints and lets two writers read the same row).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    # Writers of this process queue here rather than in SQLite's busy handler,
    # which polls with sleeps of up to 100 ms (seconds of latency under load).
    # Other processes (CLI, worker) still meet SQLite's lock and busy timeout.
    # In order of arrival (fifo.py): no kiosk waits while later ones go first.
    writer = FifoLock()

    def _release(info: dict[str, Any]) -> None:
        if info.pop(_HOLDS_WRITER, False):
            writer.release()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        # Invariant 2 on SQLite: every writing transaction takes the write lock
        # when it starts, so two agents calling "next" run one after the other
        # and the second sees the first's call. Readers start deferred and do
        # not wait for writers (WAL).
        reading = _read_only.get()
        connection.info[_READING] = reading
        if reading:
            connection.exec_driver_sql("BEGIN")
            return
        if not connection.info.get(_HOLDS_WRITER):
            if not writer.acquire(WRITER_TIMEOUT_SECONDS):
                raise WriterBusy(
                    f"the database's writer lock was not free in {WRITER_TIMEOUT_SECONDS:.0f} s"
                )
            connection.info[_HOLDS_WRITER] = True
            _held_writer.set(functools.partial(_release, connection.info))
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(connection.info)
            raise

    @event.listens_for(engine, "before_cursor_execute")
    def refuse_writes_when_reading(
        connection: Any, cursor: Any, statement: str, *args: Any
    ) -> None:
        if connection.info.get(_READING) and statement.lstrip()[:7].upper().startswith(_WRITES):
            raise WriteInReadOnlyTransaction(
                "a write in a read-only transaction (a GET request, a Socket.IO handler or "
                "a read_only block): write inside queue_app.infra.database.writable(session)"
            )

    # Given back once a session's transaction ended (above), else when the
    # connection returns to the pool, after its COMMIT or ROLLBACK (work done on
    # a connection without a session: migrations, the command line).
    @event.listens_for(engine, "checkin")
    def on_checkin(dbapi_connection: Any, record: Any) -> None:
        record.info.pop(_READING, None)
        _release(record.info)
