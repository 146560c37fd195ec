"""The day-close job: waiting tickets are closed after closing time, counters released.

The site is in Porto-Novo (UTC+1) so a UTC/local confusion shows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from queue_app.extensions import db
from queue_app.jobs import day_close as day_close_job
from queue_app.jobs import retention
from queue_app.jobs.scheduler import JOBS, build_scheduler, run_job
from queue_app.models import (
    Counter,
    CounterState,
    EventKind,
    Site,
    Ticket,
    TicketEvent,
    TicketSource,
    TicketStatus,
    User,
)
from queue_app.queue import SYSTEM, Actor, call_next, issue_ticket, open_counter
from queue_app.queue.sites import clear_hours, set_hours

from .conftest import build_office

# Monday 23 November 2026. Porto-Novo = UTC+1.
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


def local(hour: int, minute: int = 0, day_offset: int = 0) -> datetime:
    """A Porto-Novo wall-clock time on Monday as an aware UTC instant."""
    return MONDAY + timedelta(days=day_offset, hours=hour - 1, minutes=minute)


@pytest.fixture
def porto(app):
    build_office(app, slug="porto", timezone="Africa/Porto-Novo")
    with app.app_context():
        site = db.session.scalar(select(Site).where(Site.slug == "porto"))
        set_hours(
            db.session,
            site,
            {"monday": [["08:00", "12:30"], ["14:00", "17:00"]], "tuesday": [["08:00", "17:00"]]},
        )
        db.session.commit()
    return app


def _state(app):
    with app.app_context():
        site = db.session.scalar(select(Site).where(Site.slug == "porto"))
        services = {s.code: s for s in site.services}
        counters = {c.name: c for c in site.counters}
        users = {u.email.split("@")[0]: u for u in db.session.scalars(select(User))}
        return site, services, counters, users


def run_day_close(app, at: datetime) -> int:
    with time_machine.travel(at, tick=False), app.app_context():
        return day_close_job.run()


def statuses(app) -> dict[str, str]:
    with app.app_context():
        return {t.label: t.status.value for t in db.session.scalars(select(Ticket))}


def test_waiting_tickets_are_closed_after_closing_time_and_grace(porto):
    app = porto
    with app.app_context():
        site, services, counters, users = _state(app)
        site = db.session.merge(site)
        cni = db.session.merge(services["CNI"])
        agent = db.session.merge(users["agent"])
        counter = db.session.merge(counters["Guichet 2"])
        for minute in range(3):
            issue_ticket(
                db.session,
                site,
                cni,
                actor=SYSTEM,
                source=TicketSource.KIOSK,
                now=local(16, minute),
            )
        open_counter(db.session, counter, agent, now=local(10))
        call_next(db.session, counter, actor=Actor(user=agent), now=local(16, 30))
        db.session.commit()

    # 17:00 closing + 60 minutes of grace: still open at 17:59 local.
    assert run_day_close(app, local(17, 59)) == 0
    assert statuses(app) == {"B-001": "called", "B-002": "waiting", "B-003": "waiting"}

    assert run_day_close(app, local(18, 1)) == 2
    assert statuses(app) == {"B-001": "called", "B-002": "cancelled", "B-003": "cancelled"}
    with app.app_context():
        closed = db.session.scalars(
            select(TicketEvent).where(TicketEvent.kind == EventKind.DAY_CLOSED)
        ).all()
        assert len(closed) == 2
        assert all(e.from_status == TicketStatus.WAITING for e in closed)
        assert all(e.user_id is None and e.device_id is None for e in closed)
        # The counter still has B-001 in progress: it stays open.
        counter = db.session.scalar(
            select(Counter).where(Counter.name == "Guichet 2", Counter.site_id == site.id)
        )
        assert counter.state == CounterState.OPEN

    # Idempotent: a second run finds nothing more to do.
    assert run_day_close(app, local(18, 2)) == 0


def test_counters_left_open_are_closed_but_not_one_opened_after_hours(porto):
    app = porto
    with app.app_context():
        site, services, counters, users = _state(app)
        open_counter(
            db.session,
            db.session.merge(counters["Guichet 1"]),
            db.session.merge(users["agent"]),
            now=local(9),
        )
        open_counter(
            db.session,
            db.session.merge(counters["Guichet 3"]),
            db.session.merge(users["agent2"]),
            now=local(18, 30),
        )
        db.session.commit()
    run_day_close(app, local(18, 45))
    with app.app_context():
        state = {
            c.name: (c.state, c.agent_id)
            for c in db.session.scalars(select(Counter))
            if c.site_id == site.id
        }
    assert state["Guichet 1"] == (CounterState.CLOSED, None)
    assert state["Guichet 3"][0] == CounterState.OPEN


def test_yesterdays_waiting_tickets_are_closed_the_next_morning(porto):
    app = porto
    with app.app_context():
        site, services, _, _ = _state(app)
        issue_ticket(
            db.session,
            db.session.merge(site),
            db.session.merge(services["CASIER"]),
            actor=SYSTEM,
            source=TicketSource.KIOSK,
            now=local(16),
        )
        db.session.commit()
    # The server was down in the evening; the job runs at 07:30 on Tuesday.
    assert run_day_close(app, local(7, 30, day_offset=1)) == 1
    assert statuses(app) == {"A-001": "cancelled"}


def test_a_site_without_hours_closes_at_local_midnight_plus_grace(app):
    build_office(app, slug="nohours", timezone="Africa/Porto-Novo")
    with app.app_context():
        site = db.session.scalar(select(Site).where(Site.slug == "nohours"))
        cni = next(s for s in site.services if s.code == "CNI")
        issue_ticket(db.session, site, cni, actor=SYSTEM, source=TicketSource.KIOSK, now=local(22))
        db.session.commit()
    assert run_day_close(app, local(0, 30, day_offset=1)) == 0  # 00:30, within the grace hour
    assert run_day_close(app, local(1, 1, day_offset=1)) == 1


def test_a_site_closed_all_week_closes_tickets_staff_let_in_at_local_midnight(app):
    """{} hours: closed every day; a ticket staff issued anyway waits until midnight + grace."""
    build_office(app, slug="closed", timezone="Africa/Porto-Novo")
    with app.app_context():
        site = db.session.scalar(select(Site).where(Site.slug == "closed"))
        set_hours(db.session, site, {})
        cni = next(s for s in site.services if s.code == "CNI")
        issue_ticket(
            db.session,
            site,
            cni,
            actor=SYSTEM,
            source=TicketSource.STAFF,
            enforce_hours=False,
            now=local(15),
        )
        db.session.commit()
    assert run_day_close(app, local(23, 59)) == 0
    assert run_day_close(app, local(0, 59, day_offset=1)) == 0  # local midnight + 59 min
    assert run_day_close(app, local(1, 1, day_offset=1)) == 1
    assert statuses(app) == {"B-001": "cancelled"}


def test_clearing_the_hours_gives_back_the_midnight_day_end(porto):
    app = porto
    with app.app_context():
        site, services, _, _ = _state(app)
        site = db.session.merge(site)
        clear_hours(db.session, site)
        issue_ticket(
            db.session,
            site,
            db.session.merge(services["CNI"]),
            actor=SYSTEM,
            source=TicketSource.KIOSK,
            now=local(20),  # after Monday's 17:00: accepted, no hours any more
        )
        db.session.commit()
    # With Monday's hours the ticket would be closed from 18:00; now at 01:00 only.
    assert run_day_close(app, local(23, 30)) == 0
    assert run_day_close(app, local(1, 1, day_offset=1)) == 1


def test_retention_erases_old_phone_numbers_only(app):
    build_office(app)
    with app.app_context():
        site = db.session.scalar(select(Site).where(Site.slug == "thies"))
        cni = next(s for s in site.services if s.code == "CNI")
        old = issue_ticket(
            db.session,
            site,
            cni,
            actor=SYSTEM,
            source=TicketSource.KIOSK,
            phone="+221771234567",
            now=datetime.now(UTC) - timedelta(days=40),
        )
        recent = issue_ticket(
            db.session, site, cni, actor=SYSTEM, source=TicketSource.KIOSK, phone="+221771234568"
        )
        db.session.commit()
        old_id, recent_id = old.ticket.id, recent.ticket.id
        assert retention.run() == 1
        db.session.expire_all()
        assert db.session.get(Ticket, old_id).phone is None
        assert db.session.get(Ticket, recent_id).phone == "+221771234568"


def test_scheduler_has_each_job_once_and_a_failing_job_does_not_raise(app):
    scheduler = build_scheduler(app, blocking=False)
    assert sorted(job.id for job in scheduler.get_jobs()) == sorted(name for name, _, _ in JOBS)

    def broken():
        raise RuntimeError("boom")

    assert run_job(app, "broken", broken) is None
    # The job ran in its own app context and left no transaction open.
    assert run_job(app, "day_close", day_close_job.run) == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_a_job_whose_rollback_fails_too_does_not_raise(app, monkeypatch, caplog):
    """The connection is thrown away instead (a rollback fails on a dead connection)."""
    from sqlalchemy.orm import Session

    invalidated = []

    def failing_rollback(self):
        raise RuntimeError("connection lost")

    monkeypatch.setattr(Session, "rollback", failing_rollback)
    monkeypatch.setattr(Session, "invalidate", lambda self: invalidated.append(self))

    def broken():
        raise RuntimeError("boom")

    assert run_job(app, "broken", broken) is None
    assert len(invalidated) == 1
    assert "job broken failed" in caplog.text
