"""Waiting estimates learn service times per service and hour of day, from the event log.

Porto-Novo (UTC+1): on Monday the CNI desk takes 12 minutes a citizen at 9 in
the morning and 4 minutes at 2 in the afternoon. From Tuesday, a newcomer with
one person ahead and one counter open is told 12 minutes at 9:30 and 4 at
14:30; at 11:00, an hour without history, the mean of all hours (8).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select

from queue_app.extensions import db
from queue_app.jobs import stats as stats_job
from queue_app.jobs.scheduler import JOBS
from queue_app.models import (
    EventKind,
    ServiceTimeProfile,
    Site,
    TicketEvent,
    TicketSource,
    User,
)
from queue_app.quality.learning import learn_site
from queue_app.queue import Actor, call_next, finish, issue_ticket, open_counter, start
from queue_app.queue.service_times import clear_cache
from queue_app.queue.sites import update_service

from .conftest import Api, build_office

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


def local(hour: int, minute: int = 0, day: int = 0) -> datetime:
    return MONDAY + timedelta(days=day, hours=hour - 1, minutes=minute)


@pytest.fixture
def porto(app):
    clear_cache()
    office = build_office(app, slug="porto", timezone="Africa/Porto-Novo")
    with app.app_context():
        session = db.session
        site = session.get(Site, office.site.id)
        cni = next(s for s in site.services if s.code == "CNI")
        update_service(session, cni, {"avg_service_minutes": 5})
        counter = next(c for c in site.counters if c.name == "Guichet 2")  # CNI only
        agent = session.get(User, office.users["agent2"].id)
        open_counter(session, counter, agent, now=local(8))
        session.commit()
        actor = Actor(user=agent)
        for hour, minutes in ((9, 12), (14, 4)):
            for index in range(6):
                at = local(hour, index * 5)
                issue_ticket(session, site, cni, actor=Actor(), source=TicketSource.KIOSK, now=at)
                ticket = call_next(session, counter, actor=actor, now=at)
                start(session, ticket, actor=actor, now=at)
                finish(session, ticket, actor=actor, now=at + timedelta(minutes=minutes))
                session.commit()
    yield app, office
    clear_cache()


def _issue(app, office, at):
    with app.app_context():
        site = db.session.get(Site, office.site.id)
        cni = next(s for s in site.services if s.code == "CNI")
        issued = issue_ticket(
            db.session, site, cni, actor=Actor(), source=TicketSource.KIOSK, now=at
        )
        db.session.commit()
        return issued.position, issued.estimated_wait_minutes


def test_the_estimate_learns_per_hour_and_falls_back_to_all_hours(porto):
    app, office = porto
    with app.app_context():
        site = db.session.get(Site, office.site.id)
        learned = learn_site(db.session, site, days=28, now=local(7, 0, day=1))
        db.session.commit()
        profiles = {
            p.hour: (p.mean_seconds, p.samples)
            for p in db.session.scalars(select(ServiceTimeProfile))
        }
    assert learned == 3
    assert profiles == {9: (720, 6), 14: (240, 6), -1: (480, 12)}
    assert _issue(app, office, local(9, 30, day=1)) == (0, 0)
    assert _issue(app, office, local(9, 31, day=1)) == (1, 12)
    assert _issue(app, office, local(9, 32, day=1)) == (2, 24)
    # Next day, an empty queue: the afternoon is faster, 11:00 has no history of its own.
    assert _issue(app, office, local(14, 30, day=2)) == (0, 0)
    assert _issue(app, office, local(14, 31, day=2)) == (1, 4)
    assert _issue(app, office, local(11, 0, day=2)) == (2, 16)


def test_the_estimate_given_at_issue_is_kept_in_the_event_log(porto):
    app, office = porto
    _issue(app, office, local(9, 30, day=1))
    position, wait = _issue(app, office, local(9, 31, day=1))
    with app.app_context():
        data = db.session.scalars(
            select(TicketEvent.data)
            .where(TicketEvent.kind == EventKind.ISSUED)
            .order_by(TicketEvent.id.desc())
            .limit(1)
        ).one()
    assert data == {"number": 2, "estimate": wait}


def test_an_issue_reads_the_learned_times_once_and_keeps_them(porto):
    """The learned times are read once per service and kept (service_times.py), not per issue."""
    app, office = porto
    with app.app_context():
        site = db.session.get(Site, office.site.id)
        learn_site(db.session, site, days=28, now=local(7, 0, day=1))
        db.session.commit()
        statements: list[str] = []

        def seen(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            for minute in range(30, 36):
                _issue(app, office, local(9, minute, day=1))
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
    profiles = [s for s in statements if "service_time_profiles" in s]
    # Six issues, one read: learning cleared the cache, the first issue filled it.
    assert len(profiles) == 1, profiles


def test_the_dashboard_shows_how_far_estimates_were_from_real_waits(porto):
    app, office = porto
    api = Api(app, office)
    # Monday: each ticket was issued with nobody ahead (estimate 0) and called at once.
    monday = api.get("sites/porto/stats?from=2026-03-02&to=2026-03-02", "manager").get_json()
    assert monday["totals"]["estimate_error_minutes"] == {"mean": 0.0, "count": 12}
    with app.app_context():
        site = db.session.get(Site, office.site.id)
        learn_site(db.session, site, days=28, now=local(7, 0, day=1))
        db.session.commit()
    # Tuesday: three tickets at 9:30 told 0, 12 and 24 minutes; called after 10, 20, 40.
    estimates = [_issue(app, office, local(9, 30 + i, day=1))[1] for i in range(3)]
    assert estimates == [0, 12, 24]
    with app.app_context():
        session = db.session
        site = session.get(Site, office.site.id)
        counter = next(c for c in site.counters if c.name == "Guichet 2")
        actor = Actor(user=session.get(User, office.users["agent2"].id))
        for index, (wait, served_for) in enumerate(((10, 10), (19, 20), (38, 1))):
            at = local(9, 30 + index + wait, day=1)
            ticket = call_next(session, counter, actor=actor, now=at)
            finish(session, ticket, actor=actor, now=at + timedelta(minutes=served_for))
            session.commit()
    tuesday = api.get("sites/porto/stats?from=2026-03-03&to=2026-03-03", "manager").get_json()
    errors = [abs(0 - 10), abs(12 - 19), abs(24 - 38)]
    mean = round(sum(errors) / 3, 1)
    assert tuesday["totals"]["estimate_error_minutes"] == {"mean": mean, "count": 3}
    assert math.isclose(mean, 10.3)


def test_learning_runs_as_a_job(porto):
    app, _ = porto
    assert "service_times" in {name for name, _job, _interval in JOBS}
    with app.app_context():
        assert stats_job.learn_all(now=local(7, 0, day=1)) >= 3
