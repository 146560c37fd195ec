"""The cost of a Prometheus scrape: GET /metrics against GET /healthz, in the same run.

An office of 10 services and 20 devices (kiosks, displays, tablets, print
agents), TODAY tickets issued today (most of them called and served, some
waiting, their events), and DAYS earlier days of the same traffic stored
before, so that the figure shows whether a scrape grows with the history (it
should not: it reads the site's day and the waiting queue, through indexes).
Both requests go through the whole Flask app in this process (test client, no
HTTP server), so the difference is what /metrics itself costs.

    .venv/bin/python bench/metrics.py [--dburl sqlite|postgresql://…] [--num 300]
                                      [--today 600] [--days 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from queue_app import create_app  # noqa: E402
from queue_app.cli.commands import upgrade_database  # noqa: E402
from queue_app.extensions import db  # noqa: E402
from queue_app.infra.config import normalize_database_url  # noqa: E402
from queue_app.models import (  # noqa: E402
    Device,
    DeviceKind,
    Site,
    Ticket,
    TicketEvent,
)
from queue_app.queue.accounts import create_device  # noqa: E402
from queue_app.queue.sites import create_service, create_site  # noqa: E402

SERVICES = 10
DEVICES = {DeviceKind.KIOSK: 6, DeviceKind.DISPLAY: 6, DeviceKind.TABLET: 6, DeviceKind.PRINTER: 2}


def fill(app, today_count: int, days: int, now: datetime) -> None:
    """The office, then DAYS days of history and today's tickets, by bulk inserts."""
    with app.app_context():
        session = db.session
        site = create_site(session, "bench", "Espace Sénégal Services Bench", "Africa/Dakar")
        services = [
            create_service(
                session, site, f"S{i:02d}", names={"fr": f"Service {i}"}, prefix="ABCDEFGHJK"[i]
            )
            for i in range(SERVICES)
        ]
        for kind, count in DEVICES.items():
            for n in range(count):
                device, _ = create_device(session, site, kind, f"{kind.value} {n}")
                device.last_seen_at = now - timedelta(seconds=30 if n % 3 else 900)
        session.commit()
        site_id = site.id
        service_ids = [s.id for s in services]
    with app.app_context(), db.engine.begin() as connection:
        for day_offset in range(days, -1, -1):
            day_start = (now - timedelta(days=day_offset)).replace(
                hour=8, minute=0, second=0, microsecond=0
            )
            tickets, events = [], []
            for n in range(today_count):
                service_id = service_ids[n % SERVICES]
                issued_at = day_start + timedelta(seconds=20 * n)
                waiting = day_offset == 0 and n >= today_count - 40
                called_at = None if waiting else issued_at + timedelta(seconds=60 + 37 * (n % 50))
                tickets.append(
                    {
                        "site_id": site_id,
                        "service_id": service_id,
                        "issued_service_id": service_id,
                        "service_day": issued_at.date(),
                        "number": n // SERVICES + 1,
                        "label": f"X-{n:03d}",
                        "code": uuid.uuid4().hex[:12],
                        "priority_class": "normal",
                        "priority_rank": 1,
                        "source": "kiosk",
                        "status": "waiting" if waiting else "done",
                        "issued_at": issued_at,
                        "queued_at": issued_at,
                        "first_called_at": called_at,
                        "called_at": called_at,
                        "started_at": called_at,
                        "finished_at": called_at and called_at + timedelta(minutes=5),
                        "recall_count": 0,
                        "transfer_count": 0,
                    }
                )
            ids = (
                connection.execute(
                    insert(Ticket).returning(Ticket.id, sort_by_parameter_order=True), tickets
                )
                .scalars()
                .all()
            )
            for ticket_id, row in zip(ids, tickets, strict=True):
                base = {"ticket_id": ticket_id, "site_id": site_id, "service_id": row["service_id"]}
                events.append(
                    {**base, "kind": "issued", "to_status": "waiting", "at": row["issued_at"]}
                )
                if row["called_at"] is not None:
                    events.append(
                        {
                            **base,
                            "kind": "called",
                            "from_status": "waiting",
                            "to_status": "called",
                            "at": row["called_at"],
                        }
                    )
                    events.append(
                        {
                            **base,
                            "kind": "finished",
                            "from_status": "serving",
                            "to_status": "done",
                            "at": row["finished_at"],
                        }
                    )
            connection.execute(insert(TicketEvent), events)
        if connection.dialect.name == "postgresql":
            connection.execute(text("ANALYZE"))


def timed(client, path: str, num: int, cpu: list[float]) -> list[float]:
    """Wall milliseconds of each request; the CPU milliseconds of this thread go to ``cpu``.

    On a loaded machine the wall time includes waiting for a core; the CPU time
    is what the request itself cost.
    """
    for _ in range(20):  # warm up: compiled statements, pool, the day's tally
        client.get(path)
    samples = []
    for _ in range(num):
        start, start_cpu = time.perf_counter(), time.thread_time()
        response = client.get(path)
        samples.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
    return samples


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def p95(samples: list[float]) -> float:
    return sorted(samples)[max(int(len(samples) * 0.95) - 1, 0)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dburl", default="sqlite")
    parser.add_argument("--num", type=int, default=300, help="requests of each kind")
    parser.add_argument("--today", type=int, default=600, help="tickets issued today")
    parser.add_argument("--days", type=int, default=60, help="earlier days of the same traffic")
    args = parser.parse_args()
    print(__doc__.split("\n\n")[0])
    folder = Path(tempfile.mkdtemp(prefix="guichet-bench-metrics-"))
    dropped = None
    if args.dburl == "sqlite":
        url = f"sqlite:///{folder / 'bench.db'}"
    else:
        name = f"guichet_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(normalize_database_url(args.dburl), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(args.dburl).set(database=name).render_as_string(hide_password=False)
        dropped = (admin, name)
    try:
        app = create_app(
            {
                "INSTANCE_PATH": str(folder),
                "DATABASE_URL": url,
                "SECRET_KEY": "bench",
                "RATELIMIT_ENABLED": False,
            }
        )
        now = datetime.now(UTC).replace(hour=17, minute=0)
        with app.app_context():
            upgrade_database()
        fill(app, args.today, args.days, now)
        client = app.test_client()
        import time_machine

        with time_machine.travel(now, tick=True):
            body = client.get("/metrics").get_data(as_text=True)
            series = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
            # Interleaved rounds, so that both see the same machine load.
            metrics, health, metrics_cpu, health_cpu = [], [], [], []
            for _ in range(3):
                health += timed(client, "/healthz", args.num // 3, health_cpu)
                metrics += timed(client, "/metrics", args.num // 3, metrics_cpu)
        with app.app_context():
            stored = db.session.query(Ticket).count()
            sites = db.session.query(Site).count()
            devices = db.session.query(Device).count()
        print(
            f"database {make_url(url).get_backend_name()}, {sites} site, {SERVICES} services, "
            f"{devices} devices, {stored} tickets stored ({args.today} today), {series} series"
        )
        print(f"{'request':10} {'p50 ms':>8} {'p95 ms':>8} {'CPU p50 ms':>11} {'CPU p95 ms':>11}")
        for label, wall, cpu in (
            ("/healthz", health, health_cpu),
            ("/metrics", metrics, metrics_cpu),
        ):
            print(
                f"{label:10} {median(wall):8.2f} {p95(wall):8.2f} "
                f"{median(cpu):11.2f} {p95(cpu):11.2f}"
            )
        print(
            f"/metrics over /healthz (medians): wall {median(metrics) / median(health):.1f}x, "
            f"CPU {median(metrics_cpu) / median(health_cpu):.1f}x; /metrics itself: "
            f"{median(metrics_cpu) - median(health_cpu):.2f} ms of CPU"
        )
        print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        if dropped is not None:
            admin, name = dropped
            from queue_app.extensions import db as database

            with app.app_context():
                database.session.remove()
                database.engine.dispose()
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
