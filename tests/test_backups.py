"""Backups and restores: `queue-app backup` while the office works, `restore` into an empty
database, and the numbering goes on; the worker's nightly backup and its retention."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from queue_app import create_app
from queue_app.cli.commands import cli
from queue_app.extensions import db
from queue_app.jobs import backup as nightly
from queue_app.models import Base, Site, Ticket, TicketEvent
from queue_app.ops import backup as backups

from .conftest import PG_URL, Api, base_config, build_office, dispose


def invoke(application, *args):
    return application.test_cli_runner().invoke(cli, list(args))


def row_counts(application) -> dict[str, int]:
    with application.app_context():
        counts = {
            table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
        }
        db.session.remove()
        return counts


@pytest.fixture
def empty_target(any_app, tmp_path):
    """An app on a new, empty database of the same kind as ``any_app``'s."""
    dropped = None
    if any_app.config["DATABASE_URL"].startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'restored.db'}"
    else:
        name = f"guichet_restore_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        dropped = (admin, name)
    application = create_app(base_config(tmp_path / "restored", url))
    yield application
    dispose(application)
    if dropped:
        admin, name = dropped
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_restore_drill_keeps_everything_and_numbering_goes_on(any_app, empty_target, tmp_path):
    office = build_office(any_app)
    api = Api(any_app, office)
    with time_machine.travel(datetime.now(UTC).replace(hour=9, minute=0), tick=False):
        labels = [api.issue("CNI")["label"] for _ in range(3)]
        api.issue("CASIER", phone="+221771234567")
        api.open_counter("g2")
        assert api.call_next("g2").status_code == 200
        api.put(f"sites/{office.slug}/display-message", "manager", json={"message": "Bienvenue"})

        path = tmp_path / "backups" / "office.backup"
        result = invoke(any_app, "backup", str(path))
        assert result.exit_code == 0, result.output
        assert path.is_file()
        assert "written to" in result.output

        restored = invoke(empty_target, "restore", str(path))
        assert restored.exit_code == 0, restored.output
        assert row_counts(empty_target) == row_counts(any_app)

        # The server starts on the restored database: the next CNI ticket follows B-003.
        again = Api(empty_target, office)
        ticket = again.issue("CNI")
    assert labels == ["B-001", "B-002", "B-003"]
    assert ticket["label"] == "B-004"
    with empty_target.app_context():
        site = db.session.scalar(select(Site).where(Site.slug == office.slug))
        assert site.display_message == "Bienvenue"
        phones = db.session.scalars(select(Ticket.phone).where(Ticket.phone.is_not(None))).all()
        assert phones == ["+221771234567"]


def test_restore_refuses_a_database_that_holds_an_office(any_app, tmp_path):
    build_office(any_app)
    path = tmp_path / "copy.backup"
    assert invoke(any_app, "backup", str(path)).exit_code == 0
    refused = invoke(any_app, "restore", str(path))
    assert refused.exit_code != 0
    assert "not empty" in refused.output
    assert row_counts(any_app)["sites"] == 1


def test_backup_while_kiosks_issue_is_one_consistent_state(any_app, tmp_path, empty_target):
    """Tickets issued during the copy: each ticket in the copy has its event, no more, no less."""
    office = build_office(any_app)
    api = Api(any_app, office)
    api.issue("CNI")
    stop = threading.Event()
    issued: list[str] = []

    def kiosk() -> None:
        client = Api(any_app, office)
        while not stop.is_set() and len(issued) < 200:
            issued.append(client.issue("CNI")["label"])

    thread = threading.Thread(target=kiosk)
    thread.start()
    try:
        path = tmp_path / "busy.backup"
        result = invoke(any_app, "backup", str(path))
    finally:
        stop.set()
        thread.join(30)
    assert result.exit_code == 0, result.output
    assert invoke(empty_target, "restore", str(path)).exit_code == 0
    with empty_target.app_context():
        tickets = db.session.scalar(select(func.count()).select_from(Ticket))
        events = db.session.scalar(
            select(func.count()).select_from(TicketEvent).where(TicketEvent.kind == "issued")
        )
        numbers = db.session.scalars(select(Ticket.number).order_by(Ticket.number)).all()
    assert tickets == events
    assert numbers == list(range(1, tickets + 1))


def test_restore_of_something_else_is_refused(app, tmp_path):
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a backup at all")
    result = invoke(app, "restore", str(junk))
    assert result.exit_code != 0
    assert "not a SQLite backup" in result.output


def test_nightly_backup_once_a_day_keeping_the_newest(app, tmp_path):
    folder = tmp_path / "nightly"
    app.config.update(BACKUP_DIR=str(folder), BACKUP_KEEP=3, BACKUP_TIME="02:30")
    build_office(app)
    for day in range(1, 6):  # five old backups
        (folder / f"guichet-202611{day:02d}T023000Z.db").parent.mkdir(exist_ok=True)
        (folder / f"guichet-202611{day:02d}T023000Z.db").write_bytes(b"old")
    with app.app_context():
        early = nightly.run(now=datetime(2026, 12, 8, 2, 0, tzinfo=UTC))
        taken = nightly.run(now=datetime(2026, 12, 8, 2, 35, tzinfo=UTC))
        twice = nightly.run(now=datetime(2026, 12, 8, 23, 0, tzinfo=UTC))
    assert early is None
    assert taken is not None
    assert twice is None
    names = [path.name for path in backups.nightly_backups(folder)]
    assert names == [
        "guichet-20261104T023000Z.db",
        "guichet-20261105T023000Z.db",
        "guichet-20261208T023500Z.db",
    ]
    assert Path(taken).read_bytes()[:16] == b"SQLite format 3\x00"


def test_nightly_backups_off_with_keep_zero(app, tmp_path):
    app.config.update(BACKUP_DIR=str(tmp_path / "none"), BACKUP_KEEP=0)
    with app.app_context():
        assert nightly.run(now=datetime(2026, 12, 8, 3, 0, tzinfo=UTC)) is None
    assert not (tmp_path / "none").exists()


def test_the_worker_schedules_the_nightly_backup():
    from queue_app.jobs.scheduler import JOBS

    assert "backup" in {name for name, _job, _interval in JOBS}
