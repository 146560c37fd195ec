"""Alembic environment: runs inside the Flask app context (queue-app init-db)."""

from __future__ import annotations

from typing import Any

from alembic import context
from flask import current_app

from queue_app.extensions import db
from queue_app.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = db.engine if current_app else None
    assert engine is not None, "run migrations through `queue-app init-db`"  # noqa: S101
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters most things by rebuilding the table (batch mode): a copy,
            # then DROP TABLE of the original. With foreign keys on, that DROP deletes
            # the rows of every table that references it (ON DELETE CASCADE: a rebuilt
            # `sites` took every ticket with it). Off for the migration, on again after;
            # the pragma only counts outside a transaction, so on the driver's connection.
            _driver(connection).execute("PRAGMA foreign_keys=OFF")
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                # SQLite cannot ALTER most things: rebuild tables in batch mode.
                render_as_batch=sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    # What the rebuilt tables hold must still agree (else nothing commits).
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(
                            f"migration left {len(broken)} row(s) breaking a foreign key, "
                            f"first in table {broken[0][0]}: nothing was changed"
                        )
        except BaseException:
            if connection.in_transaction():
                connection.rollback()
            raise
        else:
            if connection.in_transaction():
                connection.commit()
        finally:
            if sqlite:
                # Never back to the pool with foreign keys off (outside any transaction).
                _driver(connection).execute("PRAGMA foreign_keys=ON")


def _driver(connection: Any) -> Any:
    return connection.connection.driver_connection


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `queue-app init-db`")
run_migrations_online()
