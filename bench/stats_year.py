"""Statistics over a year of history: how long the dashboard's figures take.

Fills a fresh database (SQLite or PostgreSQL) with DAYS working days of PER_DAY
tickets each (issued, called, started, finished; some no-shows and give-ups;
a third rated), written straight into ``tickets``, ``ticket_events`` and
``feedback`` in bulk. Then times the statistics of one site (the JSON of
GET /api/v1/sites/<slug>/stats) for the last day, the last 30 days and the
whole year: first replayed from the event log alone (nothing rolled up), then
after the closed days are rolled up into ``stats_days`` (what the worker does
every 10 minutes), and times the roll-up itself. Prints the query plan of the
event log read, to show it uses the (site_id, at) index.

Not a test: prints figures, asserts nothing about time.

    python bench/stats_year.py --dburl sqlite --days 365 --per-day 3000
    python bench/stats_year.py --dburl postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _harness import fresh_database  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from queue_app import create_app  # noqa: E402
from queue_app.cli.commands import upgrade_database  # noqa: E402
from queue_app.extensions import db  # noqa: E402
from queue_app.models import Feedback, Role, Ticket, TicketEvent, User  # noqa: E402
from queue_app.quality.replay import day_bounds  # noqa: E402
from queue_app.quality.rollup import roll_up  # noqa: E402
from queue_app.quality.stats import site_report  # noqa: E402
from queue_app.queue.sites import create_counter, create_service, create_site  # noqa: E402

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dburl", default="sqlite", help="'sqlite' or a PostgreSQL server URL")
    parser.add_argument("--days", type=int, default=365, help="days of history (weekends skipped)")
    parser.add_argument("--per-day", type=int, default=3000, help="tickets per working day")
    parser.add_argument("--repeat", type=int, default=3, help="timings per query (best and median)")
    parser.add_argument("--seed", type=int, default=11)
    return parser.parse_args()


def code(number: int) -> str:
    out = []
    for _ in range(8):
        number, digit = divmod(number, len(ALPHABET))
        out.append(ALPHABET[digit])
    return "".join(out)


def set_up(app: Any) -> tuple[int, list[int], list[int], list[int]]:
    with app.app_context():
        session = db.session
        site = create_site(session, "bench", "Espace Sénégal Services — bench", "Africa/Porto-Novo")
        services = [
            create_service(session, site, f"S{i}", names={"fr": f"Service {i}"}, prefix=chr(65 + i))
            for i in range(4)
        ]
        counters = [
            create_counter(
                session,
                site,
                f"Guichet {i + 1}",
                [(services[i % 4], 1), (services[(i + 1) % 4], 1)],
            )
            for i in range(8)
        ]
        agents = []
        for i in range(8):
            user = User(
                email=f"agent{i}@bench.sn",
                password_hash="x",
                role=Role.AGENT,
                full_name=f"Agent {i}",
                sites=[site],
            )
            session.add(user)
            agents.append(user)
        session.commit()
        return site.id, [s.id for s in services], [c.id for c in counters], [a.id for a in agents]


def fill(
    app: Any, args: argparse.Namespace, ids: tuple[int, list[int], list[int], list[int]]
) -> tuple[int, int, date, date]:
    """Write the history in bulk; returns (tickets, events, first day, last day)."""
    site_id, services, counters, agents = ids
    rng = random.Random(args.seed)
    last = date(2026, 11, 27)
    first = last - timedelta(days=args.days - 1)
    local = UTC  # Porto-Novo is UTC+1: local hours are written as UTC minus one hour
    ticket_id = event_count = 0
    started = time.perf_counter()
    with app.app_context():
        connection = db.session.connection()
        day = first
        while day <= last:
            if day.weekday() < 5:
                tickets, events, feedback = [], [], []
                numbers = dict.fromkeys(services, 0)
                opening = datetime.combine(day, dtime(7, 0), tzinfo=local)  # 08:00 local
                for _ in range(args.per_day):
                    ticket_id += 1
                    service = rng.choice(services)
                    numbers[service] += 1
                    issued = opening + timedelta(seconds=rng.triangular(0, 8 * 3600, 2 * 3600))
                    counter = rng.choice(counters)
                    agent = agents[counters.index(counter)]
                    wait = timedelta(seconds=rng.expovariate(1 / 1200))
                    called = issued + wait
                    status, end_kind = "done", "finished"
                    roll = rng.random()
                    if roll < 0.03:
                        status, end_kind = "cancelled", "cancelled"
                    elif roll < 0.10:
                        status, end_kind = "no_show", "no_show"
                    tickets.append(
                        {
                            "id": ticket_id,
                            "site_id": site_id,
                            "service_id": service,
                            "issued_service_id": service,
                            "service_day": day,
                            "number": numbers[service],
                            "label": f"X-{numbers[service]:03d}",
                            "code": code(ticket_id),
                            "priority_class": "normal",
                            "priority_rank": 1,
                            "source": "kiosk",
                            "status": status,
                            "issued_at": issued,
                            "queued_at": issued,
                            "recall_count": 0,
                            "transfer_count": 0,
                        }
                    )
                    base = {"ticket_id": ticket_id, "site_id": site_id, "service_id": service}
                    events.append(
                        {
                            **base,
                            "kind": "issued",
                            "from_status": None,
                            "to_status": "waiting",
                            "counter_id": None,
                            "user_id": None,
                            "at": issued,
                            "data": {"number": numbers[service], "estimate": rng.randint(0, 40)},
                        }
                    )
                    if end_kind == "cancelled":
                        events.append(
                            {
                                **base,
                                "kind": "cancelled",
                                "from_status": "waiting",
                                "to_status": "cancelled",
                                "counter_id": None,
                                "user_id": None,
                                "at": called,
                                "data": None,
                            }
                        )
                        continue
                    at_counter = {"counter_id": counter, "user_id": agent, "data": None}
                    events.append(
                        {
                            **base,
                            **at_counter,
                            "kind": "called",
                            "from_status": "waiting",
                            "to_status": "called",
                            "at": called,
                        }
                    )
                    if end_kind == "no_show":
                        events.append(
                            {
                                **base,
                                **at_counter,
                                "kind": "no_show",
                                "from_status": "called",
                                "to_status": "no_show",
                                "at": called + timedelta(minutes=3),
                            }
                        )
                        continue
                    began = called + timedelta(seconds=rng.uniform(20, 120))
                    done = began + timedelta(seconds=max(60, rng.gauss(420, 150)))
                    events.append(
                        {
                            **base,
                            **at_counter,
                            "kind": "started",
                            "from_status": "called",
                            "to_status": "serving",
                            "at": began,
                        }
                    )
                    events.append(
                        {
                            **base,
                            **at_counter,
                            "kind": "finished",
                            "from_status": "serving",
                            "to_status": "done",
                            "at": done,
                        }
                    )
                    if rng.random() < 0.33:
                        feedback.append(
                            {
                                "site_id": site_id,
                                "ticket_id": ticket_id,
                                "service_id": service,
                                "counter_id": counter,
                                "agent_id": agent,
                                "source": "tablet",
                                "rating": rng.choices([1, 2, 3, 4, 5], [3, 6, 15, 40, 36])[0],
                                "service_day": day,
                                "hour": (issued.hour + 1) % 24,
                                "created_at": done,
                            }
                        )
                connection.execute(insert(Ticket), tickets)
                connection.execute(insert(TicketEvent), events)
                if feedback:
                    connection.execute(insert(Feedback), feedback)
                event_count += len(events)
                db.session.commit()
                connection = db.session.connection()
            day += timedelta(days=1)
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("SELECT setval('tickets_id_seq', :n)"), {"n": ticket_id})
            db.session.commit()
            db.session.execute(text("ANALYZE"))
            db.session.commit()
    elapsed = time.perf_counter() - started
    print(f"filled {ticket_id:,} tickets and {event_count:,} events in {elapsed:.0f} s")
    return ticket_id, event_count, first, last


def timed(function: Any, repeat: int) -> tuple[float, float, Any]:
    samples, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        samples.append(time.perf_counter() - started)
    return min(samples), statistics.median(samples), result


def plan(app: Any, site_id: int, first: date, last: date) -> None:
    with app.app_context():
        from queue_app.models import Site

        site = db.session.get(Site, site_id)
        start, end = day_bounds(site, first, last)
        sql = (
            "SELECT ticket_id, kind, at FROM ticket_events "
            "WHERE site_id = :s AND at >= :a AND at < :b AND ticket_id IN ("
            "SELECT ticket_id FROM ticket_events "
            "WHERE site_id = :s AND kind = 'issued' AND at >= :a AND at < :b) "
            "ORDER BY ticket_id, at, id"
        )
        if db.engine.dialect.name == "sqlite":
            rows = db.session.execute(
                text("EXPLAIN QUERY PLAN " + sql),
                {
                    "s": site_id,
                    "a": start.astimezone(UTC).replace(tzinfo=None),
                    "b": end.astimezone(UTC).replace(tzinfo=None),
                },
            ).all()
            lines = [row[-1] for row in rows]
        else:
            rows = db.session.execute(
                text("EXPLAIN " + sql), {"s": site_id, "a": start, "b": end}
            ).all()
            lines = [row[0] for row in rows]
        print("query plan of one day's event log read:")
        for line in lines:
            print(f"    {line}")


def main() -> None:
    args = parse_args()
    print(__doc__.split("\n\n")[0])
    with fresh_database(args.dburl) as url:
        app = create_app(
            {
                "DATABASE_URL": url,
                "SECRET_KEY": "bench",
                "INSTANCE_PATH": str(Path(url.replace("sqlite:///", "")).parent)
                if url.startswith("sqlite")
                else "/tmp/guichet-bench-stats",  # noqa: S108
                "LOG_LEVEL": "WARNING",
            }
        )
        with app.app_context():
            upgrade_database()
        ids = set_up(app)
        tickets, events, first, last = fill(app, args, ids)
        site_id = ids[0]
        plan(app, site_id, last, last)
        ranges = [
            ("last day", last, last),
            ("last 30 days", last - timedelta(days=29), last),
            ("whole history", first, last),
        ]

        def report(a: date, b: date) -> Any:
            with app.app_context():
                from queue_app.models import Site

                result = site_report(db.session, db.session.get(Site, site_id), a, b)
                db.session.remove()
                return result

        print(
            f"\n{'range':<16} {'replayed from events':>22} {'rolled-up days':>18}"
            f"   (best / median of {args.repeat}, seconds)"
        )
        live = {name: timed(lambda a=a, b=b: report(a, b), args.repeat) for name, a, b in ranges}
        with app.app_context():
            from queue_app.models import Site

            started = time.perf_counter()
            site = db.session.get(Site, site_id)
            rolled = 0
            while True:
                done = roll_up(
                    db.session,
                    site,
                    grace=timedelta(hours=1),
                    now=datetime(2026, 11, 30, 8, tzinfo=UTC),
                    max_days=400,
                )
                db.session.commit()
                rolled += done
                if not done:
                    break
            rollup_time = time.perf_counter() - started
            db.session.remove()
        stored = {name: timed(lambda a=a, b=b: report(a, b), args.repeat) for name, a, b in ranges}
        for name, _a, _b in ranges:
            (l_best, l_med, l_res), (s_best, s_med, s_res) = live[name], stored[name]
            same = "same figures" if l_res == s_res else "DIFFERENT FIGURES"
            print(
                f"{name:<16} {l_best:>10.3f} / {l_med:<9.3f} {s_best:>8.3f} / {s_med:<7.3f}  {same}"
            )
        issued = stored["whole history"][2]["totals"]["issued"]
        print(
            f"\nrolled up {rolled} days in {rollup_time:.1f} s; whole history: {issued:,} tickets "
            f"({tickets:,} written, {events:,} events)"
        )
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
