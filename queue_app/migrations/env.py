"""Alembic environment: runs inside the Flask app context (queue-app init-db)."""

from __future__ import annotations

from alembic import context
from flask import current_app

from queue_app.extensions import db
from queue_app.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = db.engine if current_app else None
    assert engine is not None, "run migrations through `queue-app init-db`"  # noqa: S101
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # SQLite cannot ALTER most things: rebuild tables in batch mode.
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `queue-app init-db`")
run_migrations_online()
