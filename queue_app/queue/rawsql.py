"""Plain SQL on the session's own connection, for the two hot paths (issue, call next).

A statement through SQLAlchemy costs 70–110 µs of Python before the database
sees it; the same statement on the driver's cursor costs about 13 µs. Issuing
a ticket and calling the next one send their few statements this way, in the
session's transaction (begun by SQLAlchemy, so SQLite's writer lock and
PostgreSQL's isolation are the ones every other path gets) and committed with
the session (so the after-commit pushes still follow the commit).

What stays the same as an ordinary statement: the engine's
``before_cursor_execute`` listeners see each statement (SQLite's guard against
a write in a reading transaction, the tests' statement counts), and the
driver's errors reach the caller as SQLAlchemy's (a connection lost under a
statement invalidates the pool and is answered 503). What the
caller does itself: passing values as the column types would (``bind``), and
reading results as plain tuples.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import Date, Table
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.orm import Session

from ..models.base import TZDateTime

_NAMED = re.compile(r"(?<![:\w]):(\w+)")


class Statement:
    """One SQL text written with ``:name`` parameters, in each driver's own style."""

    def __init__(self, sql: str) -> None:
        self.text = sql
        # psycopg: %(name)s, and a literal % doubled.
        self.postgresql = _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))

    def text_for(self, dialect: Dialect) -> str:
        return self.postgresql if dialect.name == "postgresql" else self.text


class Raw:
    """The session's connection and its driver's cursor, for a few plain statements.

    ``alone``: PostgreSQL only, for work that is one statement: it runs on a
    connection of its own in autocommit mode, committed when it returns (no
    BEGIN, no COMMIT: one round trip instead of three, and the rows it locks
    are held for the statement only, not until a greenlet gets to send COMMIT).
    The session's after-commit pushes still follow its own ``commit()``.
    """

    __slots__ = ("session", "connection", "cursor", "dialect", "postgresql", "_listeners", "_own")

    def __init__(self, session: Session, *, alone: bool = False) -> None:
        self.session = session
        bind = session.get_bind()
        self._own = alone and bind.dialect.name == "postgresql"
        self.connection: Connection = (
            cast(Engine, bind).connect().execution_options(isolation_level="AUTOCOMMIT")
            if self._own
            else session.connection()
        )
        self.dialect = self.connection.dialect
        self.postgresql = self.dialect.name == "postgresql"
        self.cursor = self.connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        self._listeners = list(self.connection.dispatch.before_cursor_execute)

    def execute(self, statement: Statement, params: dict[str, Any]) -> Any:
        sql = statement.text_for(self.dialect)
        for listener in self._listeners:
            listener(self.connection, self.cursor, sql, params, None, False)
        try:
            self.cursor.execute(sql, params)
        except self.dialect.loaded_dbapi.Error as error:
            # As SQLAlchemy's own execution does: the driver's error wrapped (a lost
            # connection is invalidated with its pool and answered 503, outages.py).
            self.connection._handle_dbapi_exception(error, sql, params, self.cursor, None)
        return self.cursor

    def one(self, statement: Statement, params: dict[str, Any]) -> Sequence[Any]:
        row = self.execute(statement, params).fetchone()
        if row is None:
            raise LookupError("the statement returned no row")
        return row

    def first(self, statement: Statement, params: dict[str, Any]) -> Sequence[Any] | None:
        return self.execute(statement, params).fetchone()

    def close(self) -> None:
        self.cursor.close()
        if self._own:
            self.connection.close()


class Columns:
    """Columns of a table, listed in plain SQL and read back as their column types read them.

    ``read`` turns a driver row into ``{name: value}`` with the values an ORM
    load would give (enum members, aware UTC datetimes, dates on SQLite).
    """

    def __init__(self, table: Any, names: Sequence[str] | None = None) -> None:
        self.table: Table = table
        self.names = tuple(names) if names is not None else tuple(c.name for c in table.columns)
        self.sql = ", ".join(self.names)
        self._readers: dict[str, list[Callable[[Any], Any] | None]] = {}

    def _readers_for(self, dialect: Dialect) -> list[Callable[[Any], Any] | None]:
        readers = self._readers.get(dialect.name)
        if readers is None:
            readers = self._readers[dialect.name] = [
                self.table.c[name].type._cached_result_processor(dialect, None)
                for name in self.names
            ]
        return readers

    def read(self, dialect: Dialect, row: Sequence[Any]) -> dict[str, Any]:
        return {
            name: (read(value) if read is not None and value is not None else value)
            for name, read, value in zip(self.names, self._readers_for(dialect), row, strict=True)
        }


_PROCESSORS: dict[tuple[str, str], Callable[[Any], Any] | None] = {}


def _processor(dialect: Dialect, kind: str) -> Callable[[Any], Any] | None:
    key = (dialect.name, kind)
    if key not in _PROCESSORS:
        # The column type's whole chain (TZDateTime: aware UTC, SQLite its wall time).
        column_type = TZDateTime() if kind == "datetime" else Date()
        _PROCESSORS[key] = column_type._cached_bind_processor(dialect)
    return _PROCESSORS[key]


def bind_datetime(dialect: Dialect, value: Any) -> Any:
    """A datetime as a ``TZDateTime`` column stores it on this database."""
    process = _processor(dialect, "datetime")
    return process(value) if process is not None else value


def bind_date(dialect: Dialect, value: Any) -> Any:
    """A date as a ``Date`` column stores it on this database."""
    process = _processor(dialect, "date")
    return process(value) if process is not None else value
