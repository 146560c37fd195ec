"""Engine set-up per database: SQLite gets WAL and serialised write transactions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .extensions import db

# Whether transactions begun in the current context only read. Readers on
# SQLite start deferred (no write lock); everything else takes the write lock.
_read_only: ContextVar[bool] = ContextVar("queue_app_read_only", default=False)
_HOLDS_WRITER = "queue_app_holds_writer"


@contextmanager
def read_only() -> Iterator[None]:
    """Transactions begun inside this block only read (on SQLite: no write lock)."""
    token = _read_only.set(True)
    try:
        yield
    finally:
        _read_only.reset(token)


def set_read_only(value: bool) -> None:
    """Mark the current request as reading only (reset at the request's end)."""
    _read_only.set(value)


def configure_engine(app: Flask) -> None:
    """Hook dialect-specific behaviour onto the app's engine."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)


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
    writer = threading.Lock()

    def _release(info: dict[str, Any]) -> None:
        if info.pop(_HOLDS_WRITER, False):
            writer.release()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        # Invariant 2 on SQLite: every writing transaction takes the write lock
        # when it starts, so two agents calling "next" run one after the other
        # and the second sees the first's call. Readers (GET requests, the state
        # publisher) start deferred and do not wait for writers (WAL).
        if _read_only.get():
            connection.exec_driver_sql("BEGIN")
            return
        if not connection.info.get(_HOLDS_WRITER):
            writer.acquire()
            connection.info[_HOLDS_WRITER] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(connection.info)
            raise

    # The turn is given back when the connection returns to the pool, which is
    # after its COMMIT or ROLLBACK (a session releases it at the end of each
    # transaction).
    @event.listens_for(engine, "checkin")
    def on_checkin(dbapi_connection: Any, record: Any) -> None:
        _release(record.info)
