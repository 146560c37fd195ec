"""`queue-app init-db` upgrades an office's database in place: nothing is lost.

The office works on this release; its database is taken back to the schema of
an earlier release (Alembic downgrade, rows kept), every row is read, then
`init-db` migrates it to the latest revision. Every row of the earlier schema
is still there, column for column, and the office goes on where it stopped (the
next ticket follows the last number).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from alembic import command
from sqlalchemy import MetaData, inspect, select, text

from queue_app.cli.commands import alembic_config, cli
from queue_app.extensions import db

from .conftest import Api, build_office

# Tables a later revision drops on purpose: counts derived from tickets (0009 reads them
# from the tickets themselves).
DERIVED = {"queue_counts"}


def snapshot(application) -> dict[str, set[tuple]]:
    """Every row of every table, as (column, value) pairs in a set per table."""
    with application.app_context():
        db.session.remove()
        metadata = MetaData()
        metadata.reflect(db.engine)
        rows = {}
        with db.engine.connect() as connection:
            for name, table in metadata.tables.items():
                if name == "alembic_version":
                    continue
                rows[name] = {
                    tuple(sorted((k, repr(v)) for k, v in row._mapping.items()))
                    for row in connection.execute(select(table))
                }
        return rows


def revision(application) -> str:
    with application.app_context(), db.engine.connect() as connection:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()


def working_day(application):
    """An office's morning: tickets (one with a phone), calls, a transfer, a rating, a print."""
    office = build_office(application)
    api = Api(application, office)
    for _ in range(3):
        api.issue("CNI")
    api.issue("CASIER", phone="+221771234567")
    api.open_counter("g2")
    assert api.call_next("g2").status_code == 200
    api.open_counter("g3", as_="agent2")
    assert api.call_next("g3", as_="agent2").status_code == 200
    return office, api


@pytest.mark.parametrize("earlier", ["0009_one_path", "0008_queue_counts", "0003_sessions"])
def test_init_db_upgrades_an_earlier_release_without_losing_a_row(any_app, earlier):
    with time_machine.travel(datetime.now(UTC).replace(hour=10, minute=0), tick=False):
        office, api = working_day(any_app)
        with any_app.app_context():
            db.session.remove()
            command.downgrade(alembic_config(), earlier)
        assert revision(any_app) == earlier
        before = snapshot(any_app)
        assert len(before["tickets"]) == 4
        assert len(before["ticket_events"]) >= 6

        result = any_app.test_cli_runner().invoke(cli, ["init-db"])
        assert result.exit_code == 0, result.output
        assert revision(any_app) != earlier
        after = snapshot(any_app)

        for table, rows in before.items():
            if table in DERIVED:
                continue
            columns = {name for row in rows for name, _ in row}
            kept = {
                tuple(pair for pair in row if pair[0] in columns) for row in after.get(table, ())
            }
            lost = rows - kept
            assert not lost, f"{table}: {len(lost)} row(s) lost or changed: {sorted(lost)[:2]}"
            assert len(after[table]) == len(rows), table

        # The office goes on: the next CNI ticket follows B-003.
        api = Api(any_app, office)
        assert api.issue("CNI")["label"] == "B-004"


def test_migrations_keep_sqlite_foreign_keys_on_for_the_server(app):
    """Migrations turn SQLite's foreign keys off for their table rebuilds, and only for them."""
    with app.app_context():
        db.session.remove()
        command.downgrade(alembic_config(), "0009_one_path")
        command.upgrade(alembic_config(), "head")
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        db.session.rollback()
        tables = inspect(db.engine).get_table_names()
    assert "tickets" in tables
