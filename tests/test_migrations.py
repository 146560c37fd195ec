"""Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from queue_app.cli.commands import alembic_config
from queue_app.extensions import db
from queue_app.models import Base


def _diff(application) -> list:
    with application.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_migrated_schema_matches_the_models(any_app):
    assert _diff(any_app) == []


def test_downgrade_to_nothing_and_back(any_app):
    with any_app.app_context():
        db.session.remove()
        command.downgrade(alembic_config(), "base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        command.upgrade(alembic_config(), "head")
        assert "tickets" in inspect(db.engine).get_table_names()
    assert _diff(any_app) == []


@pytest.mark.parametrize("table", ["tickets", "ticket_events", "ticket_sequences"])
def test_ticket_tables_carry_their_constraints(any_app, table):
    with any_app.app_context():
        inspector = inspect(db.engine)
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)}
        indexes = {i["name"] for i in inspector.get_indexes(table)}
    if table == "tickets":
        assert ("issued_service_id", "service_day", "number") in uniques
        assert "ix_tickets_waiting_queue" in indexes
    if table == "ticket_events":
        assert "ix_ticket_events_site_at" in indexes
    if table == "ticket_sequences":
        assert set(inspector.get_pk_constraint(table)["constrained_columns"]) == {
            "service_id",
            "service_day",
        }


def test_sites_without_hours_stay_always_open_across_the_hours_migration(any_app):
    """0002: an empty mapping meant "no hours" (always open); it becomes NULL, {} = closed."""
    import sqlalchemy as sa

    from queue_app.models import utcnow
    from queue_app.models.base import TZDateTime

    sites = sa.table(
        "sites",
        sa.column("slug", sa.String()),
        sa.column("name", sa.String()),
        sa.column("timezone", sa.String()),
        sa.column("languages", sa.JSON()),
        sa.column("hours", sa.JSON(none_as_null=True)),
        sa.column("created_at", TZDateTime()),
    )
    week = {"monday": [["08:00", "17:00"]]}
    with any_app.app_context():
        db.session.remove()
        command.downgrade(alembic_config(), "0001")
        with db.engine.begin() as connection:
            for slug, hours in (("open", {}), ("weekly", week)):
                connection.execute(
                    sites.insert().values(
                        slug=slug,
                        name=slug,
                        timezone="Africa/Porto-Novo",
                        languages=["fr"],
                        hours=hours,
                        created_at=utcnow(),
                    )
                )
        command.upgrade(alembic_config(), "head")
        with db.engine.connect() as connection:
            rows = dict(connection.execute(sa.select(sites.c.slug, sites.c.hours)).all())
        assert rows == {"open": None, "weekly": week}
        command.downgrade(alembic_config(), "0001")
        with db.engine.connect() as connection:
            rows = dict(connection.execute(sa.select(sites.c.slug, sites.c.hours)).all())
        assert rows == {"open": {}, "weekly": week}
        command.upgrade(alembic_config(), "head")
