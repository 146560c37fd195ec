"""Statistics from the ticket event log, checked against figures computed by hand.

The office is in Porto-Novo (UTC+1): a ticket taken at 00:20 local time belongs
to that local day although it is still the day before in UTC, and one taken at
00:30 the next night belongs to the next day. A second office in Dakar has
tickets the same day, which must never leak into Porto-Novo's figures.

The history of Monday 2 March 2026 (local times), counters G1 (CASIER, CNI)
held by the agent and G2 (CNI) held by agent2:

=====  =======  ======  =====================================================
label  service  issued  what happened
=====  =======  ======  =====================================================
A-001  CASIER   00:20   called at G1 00:25 (waited 5), finished 00:30 (5)
A-002  CASIER   08:00   called at G1 08:10 (10), started 08:12, finished 08:20 (8)
B-001  CNI      08:05   called at G2 08:30 (25), finished 08:36 (6)
B-002  CNI      08:20   called at G1 08:40 (20), recalled 08:42, no-show 08:45
A-003  CASIER   09:00   cancelled 09:05 while waiting
B-003  CNI      09:10   called at G2 09:15 (5), started, transferred to CASIER
                        09:20; called at G1 09:50 (30 since the transfer),
                        started 09:50, finished 10:00 (10)
B-004  CNI      Tue 00:30  (the next local day) called 00:40, finished 00:45
=====  =======  ======  =====================================================

Targets: CASIER 20 minutes, CNI 10 minutes. Ratings: A-002 5 (tablet),
B-001 3 (phone), B-003 4 (tablet).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from queue_app.extensions import db
from queue_app.jobs import stats as stats_job
from queue_app.models import FeedbackSource, Site, StatsDay, Ticket, TicketEvent, TicketSource
from queue_app.quality.feedback import record_feedback
from queue_app.quality.periods import clear_cache
from queue_app.quality.replay import percentile
from queue_app.quality.rollup import roll_up
from queue_app.queue import (
    Actor,
    call_next,
    cancel,
    finish,
    issue_ticket,
    mark_no_show,
    open_counter,
    recall,
    start,
    transfer,
)
from queue_app.queue.sites import update_service

from .conftest import Api, build_office

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
DAY = "2026-03-02"
TUESDAY = "2026-03-03"


def local(hour: int, minute: int = 0, day_offset: int = 0) -> datetime:
    """A Porto-Novo wall-clock time on Monday 2 March 2026 as an aware UTC instant."""
    return MONDAY + timedelta(days=day_offset, hours=hour - 1, minutes=minute)


def _history(app, office) -> dict[str, int]:
    """Play the day of the module docstring through the domain operations."""
    with app.app_context():
        session = db.session
        site = session.get(Site, office.site.id)
        services = {s.code: s for s in site.services}
        update_service(session, services["CASIER"], {"target_wait_minutes": 20})
        update_service(session, services["CNI"], {"target_wait_minutes": 10})
        counters = {c.name: c for c in site.counters}
        g1, g2 = counters["Guichet 1"], counters["Guichet 2"]
        from queue_app.models import User

        agent = session.get(User, office.users["agent"].id)
        agent2 = session.get(User, office.users["agent2"].id)
        open_counter(session, g1, agent, now=local(0, 0))
        open_counter(session, g2, agent2, now=local(0, 0))
        session.commit()
        kiosk = Actor()
        by1, by2 = Actor(user=agent), Actor(user=agent2)

        def issue(code: str, at: datetime) -> Ticket:
            issued = issue_ticket(
                session, site, services[code], actor=kiosk, source=TicketSource.KIOSK, now=at
            )
            session.commit()
            return issued.ticket

        def called(counter, actor, at) -> Ticket:
            ticket = call_next(session, counter, actor=actor, now=at)
            session.commit()
            assert ticket is not None
            return ticket

        a1 = issue("CASIER", local(0, 20))
        assert called(g1, by1, local(0, 25)).id == a1.id
        finish(session, a1, actor=by1, now=local(0, 30))
        a2 = issue("CASIER", local(8, 0))
        b1 = issue("CNI", local(8, 5))
        assert called(g1, by1, local(8, 10)).id == a2.id
        start(session, a2, actor=by1, now=local(8, 12))
        finish(session, a2, actor=by1, now=local(8, 20))
        b2 = issue("CNI", local(8, 20))
        assert called(g2, by2, local(8, 30)).id == b1.id
        finish(session, b1, actor=by2, now=local(8, 36))
        assert called(g1, by1, local(8, 40)).id == b2.id
        recall(session, b2, actor=by1, now=local(8, 42))
        mark_no_show(session, b2, actor=by1, now=local(8, 45))
        session.commit()
        a3 = issue("CASIER", local(9, 0))
        cancel(session, a3, actor=kiosk, now=local(9, 5))
        session.commit()
        b3 = issue("CNI", local(9, 10))
        assert called(g2, by2, local(9, 15)).id == b3.id
        start(session, b3, actor=by2, now=local(9, 16))
        transfer(session, b3, services["CASIER"], actor=by2, now=local(9, 20))
        session.commit()
        assert called(g1, by1, local(9, 50)).id == b3.id
        start(session, b3, actor=by1, now=local(9, 50))
        finish(session, b3, actor=by1, now=local(10, 0))
        session.commit()
        b4 = issue("CNI", local(0, 30, day_offset=1))
        assert called(g2, by2, local(0, 40, day_offset=1)).id == b4.id
        finish(session, b4, actor=by2, now=local(0, 45, day_offset=1))
        session.commit()
        window = timedelta(days=30)
        for ticket, rating, source in (
            (a2, 5, FeedbackSource.TABLET),
            (b1, 3, FeedbackSource.WEB),
            (b3, 4, FeedbackSource.TABLET),
        ):
            record_feedback(
                session,
                ticket,
                rating=rating,
                comment=None,
                source=source,
                window=window,
                now=ticket.finished_at + timedelta(minutes=1),
            )
        session.commit()
        return {"g1": g1.id, "g2": g2.id, "agent": agent.id, "agent2": agent2.id}


@pytest.fixture
def history(app):
    clear_cache()
    porto = build_office(app, slug="porto", timezone="Africa/Porto-Novo")
    dakar = build_office(app, slug="dakar")
    ids = _history(app, porto)
    # The same kind of day in Dakar must not show in Porto-Novo's figures.
    dk = Api(app, dakar)
    dk.open_counter("g1", "agent")
    dk.issue("CNI")
    return app, porto, ids


def stats(app, office, first=DAY, last=DAY, **kwargs):
    api = Api(app, office)
    response = api.get(f"sites/{office.slug}/stats?from={first}&to={last}", "manager", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def by(rows, key, value):
    return next(row for row in rows if row[key] == value)


def test_totals_match_the_hand_computed_day(history):
    app, office, _ = history
    data = stats(app, office).get_json()
    totals = data["totals"]
    assert (data["site"], data["from"], data["to"]) == ("porto", DAY, DAY)
    assert totals["issued"] == 6  # A-001 at 00:20 local is Monday; B-004 is Tuesday
    assert totals["served"] == 4
    assert totals["no_show"] == 1
    assert totals["cancelled"] == 1
    assert totals["transferred"] == 1
    # Waits 5, 10, 25, 20, 5, 30 minutes.
    assert totals["waiting_minutes"] == {"mean": 15.8, "median": 15.0, "p90": 27.5, "count": 6}
    # Service times 5, 8, 6, 10 minutes.
    assert totals["service_minutes"] == {"mean": 7.2, "median": 7.0, "p90": 9.4, "count": 4}
    # Within target: A 5 ≤ 20, A 10 ≤ 20, B 5 ≤ 10 out of six calls.
    assert totals["within_target_pct"] == 50.0
    assert totals["satisfaction"] == {
        "mean": 4.0,
        "count": 3,
        "distribution": {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1},
    }


def test_services_counters_agents_and_hours(history):
    app, office, ids = history
    data = stats(app, office).get_json()
    casier, cni = by(data["services"], "code", "CASIER"), by(data["services"], "code", "CNI")
    assert (casier["issued"], casier["served"], casier["cancelled"]) == (3, 3, 1)
    assert casier["waiting_minutes"] == {"mean": 15.0, "median": 10.0, "p90": 26.0, "count": 3}
    assert casier["service_minutes"]["median"] == 8.0
    assert casier["within_target_pct"] == 66.7
    assert casier["satisfaction"]["mean"] == 4.5
    assert casier["target_wait_minutes"] == 20
    assert (cni["issued"], cni["served"], cni["no_show"], cni["transferred"]) == (3, 1, 1, 1)
    assert cni["waiting_minutes"] == {"mean": 16.7, "median": 20.0, "p90": 24.0, "count": 3}
    assert cni["within_target_pct"] == 33.3
    assert cni["satisfaction"]["count"] == 1

    g1, g2 = by(data["counters"], "id", ids["g1"]), by(data["counters"], "id", ids["g2"])
    assert (g1["name"], g1["served"], g1["no_show"]) == ("Guichet 1", 3, 1)
    assert g1["waiting_minutes"]["count"] == 4  # B-002, B-003 after transfer
    assert g1["satisfaction"]["mean"] == 4.5
    assert (g2["served"], g2["transferred"], g2["waiting_minutes"]["mean"]) == (1, 1, 15.0)

    agent, agent2 = by(data["agents"], "id", ids["agent"]), by(data["agents"], "id", ids["agent2"])
    assert (agent["served"], agent["no_show"]) == (3, 1)
    assert (agent2["served"], agent2["transferred"]) == (1, 1)
    assert agent2["name"] == "Agent2"

    hours = {row["hour"]: row for row in data["hours"]}
    assert sorted(hours) == [0, 8, 9]
    assert (hours[0]["issued"], hours[0]["served"]) == (1, 1)
    assert (hours[8]["issued"], hours[8]["served"], hours[8]["no_show"]) == (3, 2, 1)
    assert hours[8]["waiting_minutes"]["median"] == 20.0
    assert (hours[9]["issued"], hours[9]["cancelled"], hours[9]["transferred"]) == (2, 1, 1)
    assert [row["day"] for row in data["days"]] == [DAY]


def test_local_day_boundaries_and_ranges(history):
    app, office, _ = history
    tuesday = stats(app, office, TUESDAY, TUESDAY).get_json()
    assert tuesday["totals"]["issued"] == 1
    assert tuesday["totals"]["waiting_minutes"]["mean"] == 10.0
    both = stats(app, office, DAY, TUESDAY).get_json()
    assert both["totals"]["issued"] == 7
    assert [(d["day"], d["issued"]) for d in both["days"]] == [(DAY, 6), (TUESDAY, 1)]
    sunday = stats(app, office, "2026-03-01", "2026-03-01").get_json()
    assert sunday["totals"]["issued"] == 0
    assert sunday["totals"]["waiting_minutes"]["mean"] is None


def test_rolled_up_days_give_the_same_figures_as_the_event_log(history):
    app, office, _ = history
    live = stats(app, office, DAY, TUESDAY).get_json()
    with app.app_context():
        site = db.session.get(Site, office.site.id)
        rolled = roll_up(db.session, site, grace=timedelta(hours=1), now=local(12, 0, 3))
        db.session.commit()
        assert rolled == 3  # Monday, Tuesday, and Wednesday without tickets
        assert db.session.scalar(select(StatsDay.day).where(StatsDay.site_id == site.id))
        # The event log is untouched; the stored days are what is read now.
        events = db.session.scalars(select(TicketEvent.id)).all()
    stored = stats(app, office, DAY, TUESDAY).get_json()
    assert stored == live
    with app.app_context():
        assert db.session.scalars(select(TicketEvent.id)).all() == events


def test_the_rollup_job_waits_for_days_to_be_over(history):
    app, office, _ = history
    with app.app_context():
        site = db.session.get(Site, office.site.id)
        # Monday evening: Monday is not over (no hours: it ends at midnight + grace).
        assert roll_up(db.session, site, grace=timedelta(hours=1), now=local(20, 0)) == 0
        assert stats_job.roll_up_all(now=local(12, 0, 2)) >= 2


def test_csv_matches_the_json(history):
    app, office, _ = history
    data = stats(app, office, DAY, TUESDAY).get_json()
    response = stats(app, office, DAY, TUESDAY, headers={"Accept": "text/csv"})
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    total = by(rows, "scope", "total")

    def same(csv_row, json_row):
        assert int(csv_row["issued"]) == json_row["issued"]
        assert int(csv_row["served"]) == json_row["served"]
        assert int(csv_row["no_show"]) == json_row["no_show"]
        assert int(csv_row["cancelled"]) == json_row["cancelled"]
        for column, block, key in (
            ("waiting_mean", "waiting_minutes", "mean"),
            ("waiting_median", "waiting_minutes", "median"),
            ("waiting_p90", "waiting_minutes", "p90"),
            ("service_mean", "service_minutes", "mean"),
            ("satisfaction_mean", "satisfaction", "mean"),
        ):
            expected = json_row[block][key]
            assert (float(csv_row[column]) if csv_row[column] else None) == expected
        within = csv_row["within_target_pct"]
        assert (float(within) if within else None) == json_row["within_target_pct"]
        assert int(csv_row["rating_5"]) == json_row["satisfaction"]["distribution"]["5"]

    same(total, data["totals"])
    for service in data["services"]:
        same(by(rows, "key", service["code"]), service)
    for counter in data["counters"]:
        same(
            next(r for r in rows if r["scope"] == "counter" and r["key"] == str(counter["id"])),
            counter,
        )
    for hour in data["hours"]:
        same(next(r for r in rows if r["scope"] == "hour" and r["key"] == str(hour["hour"])), hour)
    assert [r["key"] for r in rows if r["scope"] == "day"] == [DAY, TUESDAY]
    # ?format=csv for a plain link; JSON stays the default.
    api = Api(app, office)
    linked = api.get(f"sites/porto/stats?from={DAY}&to={DAY}&format=csv", "manager")
    assert linked.mimetype == "text/csv"
    assert stats(app, office).mimetype == "application/json"


def test_national_view_adds_sites_up_for_an_admin_only(history):
    app, office, _ = history
    api = Api(app, office)
    response = api.get(f"stats?from={DAY}&to={TUESDAY}", "admin")
    data = response.get_json()
    assert response.status_code == 200, data
    sites = {row["slug"]: row for row in data["sites"]}
    assert sites["porto"]["issued"] == 7
    assert data["totals"]["issued"] == 7 + sites["dakar"]["issued"]
    assert by(data["services"], "code", "CNI")["issued"] == 4 + sites["dakar"]["issued"]
    # A manager sees the sites they manage only.
    mine = api.get(f"stats?from={DAY}&to={TUESDAY}", "manager").get_json()
    assert [row["slug"] for row in mine["sites"]] == ["porto"]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("from=2026-13-01&to=2026-03-02", 400),
        ("from=2026-03-05&to=2026-03-02", 400),
        ("from=2020-01-01&to=2026-03-02", 400),
        ("from=2026-03-02&to=2026-03-02&format=xml", 400),
    ],
)
def test_bad_ranges_are_refused_clearly(history, query, status):
    app, office, _ = history
    response = Api(app, office).get(f"sites/porto/stats?{query}", "manager")
    assert response.status_code == status
    assert response.get_json()["error"]["code"] in ("invalid_input", "invalid_request")


@pytest.mark.parametrize(
    ("who", "status"),
    [("admin", 200), ("manager", 200), ("agent", 403), ("kiosk", 403), (None, 401)],
)
def test_who_reads_statistics(history, who, status):
    app, office, _ = history
    assert Api(app, office).get(f"sites/porto/stats?from={DAY}&to={DAY}", who).status_code == status


def test_percentiles_are_taken_over_whole_minutes():
    # 12 min 40 s counts as 12; ranks are interpolated like percentile_cont.
    assert percentile([0] * 12 + [1], 0.5) == 12
    assert percentile([0, 1, 1, 1, 1], 0.5) == 2.5
    assert percentile([9] + [0] * 59 + [1], 0.9) == pytest.approx(6.0)
    assert percentile([], 0.5) is None


def test_a_whole_month_read_from_its_cache_gives_the_same_figures(app):
    """February 2026 in Porto-Novo, one ticket a day: rolled up, then read as a cached month."""
    clear_cache()
    office = build_office(app, slug="porto", timezone="Africa/Porto-Novo")
    with app.app_context():
        session = db.session
        site = session.get(Site, office.site.id)
        cni = next(s for s in site.services if s.code == "CNI")
        counter = next(c for c in site.counters if c.name == "Guichet 2")
        from queue_app.models import User

        agent = session.get(User, office.users["agent2"].id)
        first_day = datetime(2026, 2, 1, 8, tzinfo=UTC)
        open_counter(session, counter, agent, now=first_day)
        for offset in range(28):
            at = first_day + timedelta(days=offset, minutes=offset)
            issue_ticket(session, site, cni, actor=Actor(), source=TicketSource.KIOSK, now=at)
            ticket = call_next(
                session, counter, actor=Actor(user=agent), now=at + timedelta(minutes=offset)
            )
            finish(session, ticket, actor=Actor(user=agent), now=at + timedelta(minutes=40))
            session.commit()
    api = Api(app, office)
    url = "sites/porto/stats?from=2026-01-20&to=2026-03-03"
    live = api.get(url, "manager").get_json()
    assert live["totals"]["issued"] == 28
    assert live["totals"]["waiting_minutes"]["median"] == 13.5
    with app.app_context():
        site = db.session.get(Site, office.site.id)
        assert roll_up(db.session, site, grace=timedelta(hours=1), now=local(9, 0, 3)) >= 28
        db.session.commit()
    assert api.get(url, "manager").get_json() == live
    assert api.get(url, "manager").get_json() == live  # the month now from the cache
    clear_cache()
