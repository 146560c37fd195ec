"""The demo office's past weeks: played by the domain's operations, shown as measured results."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from queue_app import create_app
from queue_app.demo import load_office, read_spec
from queue_app.demo.history import load_history
from queue_app.extensions import db
from queue_app.models import Counter, CounterState, Feedback, Site, Ticket, TicketStatus

from .conftest import base_config, dispose
from .quality_helpers import sign_in
from .test_cli import empty_app, invoke  # noqa: F401 (the fixture)

# A Thursday: the three days before are Monday to Wednesday, all in September, the
# month the public commitments page shows on 1 October.
NOW = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
SPEC = read_spec()


@pytest.fixture
def demo(app):
    with app.app_context():
        loaded = load_office(db.session, SPEC, app.config["SECRET_KEY"], instance_path="/nowhere")
        db.session.commit()
        site_id = loaded.site.id
    return app, site_id


def play(app, site_id, days=3, now=NOW):
    with app.app_context():
        site = db.session.get(Site, site_id)
        return load_history(
            db.session,
            site,
            days=days,
            now=now,
            staffing=SPEC["history"]["staffing"],
            arrivals=SPEC["history"]["arrivals"],
        )


def test_the_demo_history_shows_measured_results_on_the_dashboard_and_commitments(demo):
    app, site_id = demo
    client = app.test_client()
    with time_machine.travel(NOW, tick=False):
        before = client.get("/sites/demo/commitments").get_data(as_text=True)
    assert "pas encore mesuré" in before  # what a new demo office said everywhere

    played = play(app, site_id)
    assert played.days == 3
    assert not played.skipped
    assert played.tickets >= 100

    with time_machine.travel(NOW, tick=False):
        public = client.get("/sites/demo/commitments").get_data(as_text=True)
        assert "pas encore mesuré" not in public
        assert "septembre 2026" in public
        # Every commitment has a result in per cent and a number of measures.
        results = re.findall(r'class="result-value">([^<]+)<', public)
        assert len(results) == len(SPEC["commitments"])
        assert all(re.fullmatch(r"\d+(,\d)?\s%", r) for r in results), results

        sign_in(client, "manager@guichet.demo", "demo-manager-2026")
        dashboard = client.get("/admin/").get_data(as_text=True)
        # Key figures (received, wait, within target, satisfaction, estimates): none is "—".
        figures = re.findall(r'<p class="value">(.*?)</p>', dashboard, re.S)
        assert len(figures) == 6
        assert not [f for f in figures if "—" in f], figures
        # Services, counters and agents have rows ("No ticket in this period." otherwise).
        assert 'class="empty-row"' not in dashboard
        token = client.post(
            "/api/v1/auth/token",
            json={"email": "manager@guichet.demo", "password": "demo-manager-2026"},
        ).get_json()["token"]
        stats = client.get(
            "/api/v1/sites/demo/stats?from=2026-09-28&to=2026-09-30",
            headers={"Authorization": f"Bearer {token}"},
        ).get_json()
    totals = stats["totals"]
    assert totals["issued"] == played.tickets
    assert totals["served"] + totals["no_show"] + totals["cancelled"] == totals["issued"]
    assert totals["cancelled"] == played.cancelled < 0.05 * totals["issued"]
    assert 0.03 <= totals["no_show"] / totals["issued"] <= 0.20
    assert totals["satisfaction"]["count"] == played.ratings > 10
    assert 3.0 <= totals["satisfaction"]["mean"] <= 5.0
    assert 1 <= totals["waiting_minutes"]["mean"] <= 60
    assert 3 <= totals["service_minutes"]["mean"] <= 15
    assert 40 <= totals["within_target_pct"] <= 100
    # Busier at opening than in the afternoon: arrivals follow the hours of a real office.
    with app.app_context():
        hours = [t.issued_at.hour for t in db.session.scalars(select(Ticket))]
    assert hours.count(9) > hours.count(15) > 0


def test_the_history_leaves_today_to_the_visitor(demo):
    """Nothing waits, every counter is free, today's first ticket is number 1."""
    app, site_id = demo
    play(app, site_id)
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).where(
                    Ticket.status.in_(
                        [TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING]
                    )
                )
            )
            == 0
        )
        assert db.session.scalar(select(func.max(Ticket.service_day))) == date(2026, 9, 30)
        counters = db.session.scalars(select(Counter)).all()
        assert all(c.state == CounterState.CLOSED and c.agent_id is None for c in counters)
        assert db.session.scalar(select(func.count()).select_from(Feedback)) > 0

    # Played again (a second `queue-app demo`): nothing more.
    again = play(app, site_id)
    assert again.skipped
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)) > 0


def test_the_same_seed_plays_the_same_history(tmp_path, sqlite_template):
    played = []
    for run in ("a", "b"):
        path = tmp_path / f"{run}.db"
        shutil.copy(sqlite_template, path)
        application = create_app(base_config(tmp_path / run, f"sqlite:///{path}"))
        try:
            with application.app_context():
                site = load_office(db.session, SPEC, "s", instance_path=str(tmp_path)).site
                db.session.commit()
                summary = play(
                    application, site.id, days=1, now=datetime(2026, 10, 2, 9, tzinfo=UTC)
                )
                rows = db.session.execute(
                    select(
                        Ticket.label, Ticket.issued_at, Ticket.status, Ticket.finished_at
                    ).order_by(Ticket.id)
                ).all()
                ratings = db.session.execute(
                    select(Feedback.ticket_id, Feedback.rating).order_by(Feedback.id)
                ).all()
        finally:
            dispose(application)
        played.append((summary.tickets, summary.no_shows, rows, ratings))
    assert played[0] == played[1]
    assert played[0][0] > 20


def test_demo_command_plays_the_history_unless_told_not_to(empty_app, tmp_path):  # noqa: F811
    output = invoke(empty_app, "demo", "--history-days", "3").output
    assert "Playing 3 days of past activity" in output
    assert re.search(r"\d+ working days?: \d+ tickets", output)
    with empty_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)) > 0
    again = invoke(empty_app, "demo").output
    assert "already has tickets of earlier days: no past activity added" in again


def test_demo_command_without_history(empty_app):  # noqa: F811
    output = invoke(empty_app, "demo", "--no-history").output
    assert "past activity" not in output
    with empty_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_no_past_is_played_while_someone_serves(demo):
    app, site_id = demo
    from queue_app.models import User
    from queue_app.queue.counters import open_counter

    with app.app_context():
        agent = db.session.scalar(select(User).where(User.email == "agent@guichet.demo"))
        counter = db.session.scalar(select(Counter).where(Counter.name == "Guichet 3"))
        open_counter(db.session, counter, agent, now=NOW)
        db.session.commit()
    assert play(app, site_id).skipped
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0
        assert db.session.scalar(select(Counter).where(Counter.name == "Guichet 3")).agent_id
