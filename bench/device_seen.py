"""Recording a device's activity on the ticket issue path: what it adds.

A kiosk issues tickets through the Flask test client (the whole view, the
database write, no network), in blocks that alternate between recording on
(the default: ops/devices.py notes the kiosk as seen, in memory) and off (the
note replaced by a no-op), so that the machine's load drifts evenly over both.
Prints each side's p50/p95 per issue, wall and CPU time of the issuing thread
(CPU is steadier on a shared machine), the ratios of medians and the median of
the ratios of neighbouring blocks, then the cost
of one note alone (a dict assignment under a lock) against one issue, and the
rows written when the book is flushed: one per device, whatever the tickets.

    .venv/bin/python bench/device_seen.py
    .venv/bin/python bench/device_seen.py --num 4000 --blocks 20
    .venv/bin/python bench/device_seen.py --dburl postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _database(dburl: str, folder: Path) -> tuple[str, str | None]:
    if dburl == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}", None
    import sqlalchemy as sa

    name = f"bench_seen_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(dburl, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return dburl.rsplit("/", 1)[0] + f"/{name}", name


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dburl", default="sqlite")
    parser.add_argument("--num", type=int, default=2000, help="tickets per side")
    parser.add_argument("--blocks", type=int, default=10, help="alternating blocks per side")
    args = parser.parse_args()

    from queue_app import api as api_package
    from queue_app import create_app
    from queue_app.cli.commands import upgrade_database
    from queue_app.extensions import db
    from queue_app.models import DeviceKind
    from queue_app.ops import devices
    from queue_app.queue.accounts import create_device
    from queue_app.queue.sites import create_service, create_site

    folder = Path(tempfile.mkdtemp(prefix="bench-seen-"))
    url, created = _database(args.dburl, folder)
    app = create_app(
        {
            "INSTANCE_PATH": str(folder),
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "RATELIMIT_ENABLED": False,
            "REDIS_URL": None,
            "PRINT_IN_PROCESS": False,
            # The book's own thread stays out of the timed blocks: flushed at the end.
            "DEVICE_SEEN_FLUSH_SECONDS": 3600.0,
        }
    )
    with app.app_context():
        upgrade_database()
        site = create_site(db.session, "bench", "Bench office", "Africa/Dakar")
        services = [
            create_service(
                db.session, site, f"S{i}", names={"fr": f"Service {i}"}, prefix="ABCDEFGH"[i]
            )
            for i in range(2)
        ]
        _, token = create_device(db.session, site, DeviceKind.KIOSK, "Borne")
        db.session.commit()
        codes = [service.code for service in services]

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    path = "/api/v1/sites/bench/tickets"
    recording = api_package.seen

    def no_op(device: object, now: object = None) -> None:
        return None

    def issue(count: int, code: str) -> tuple[list[float], list[float]]:
        """Wall and CPU (this thread's) seconds per issue."""
        walls, cpus = [], []
        for _ in range(count):
            started, cpu = time.perf_counter(), time.thread_time()
            response = client.post(path, json={"service": code}, headers=headers)
            cpus.append(time.thread_time() - cpu)
            walls.append(time.perf_counter() - started)
            if response.status_code != 201:
                body = response.get_data()[:200]
                raise SystemExit(f"issue failed: {response.status_code} {body!r}")
        return walls, cpus

    print(__doc__)
    print(f"database: {'sqlite (file)' if args.dburl == 'sqlite' else 'postgresql'}")
    issue(200, codes[0])  # warm-up: caches, compiled statements, pool
    per_block = max(1, args.num // args.blocks)
    on: list[float] = []
    off: list[float] = []
    on_cpu: list[float] = []
    off_cpu: list[float] = []
    pair_ratios: list[float] = []  # CPU per issue, recording / not, per pair of blocks
    last_off = last_on = None
    for block in range(args.blocks * 2):
        recording_now = block % 4 in (0, 3)  # on, off, off, on, …: drift falls on both
        api_package.seen = recording if recording_now else no_op  # type: ignore[assignment]
        # Each side issues in both services, so neither sees a longer queue.
        walls, cpus = issue(per_block, codes[block % 2])
        (on if recording_now else off).extend(walls)
        (on_cpu if recording_now else off_cpu).extend(cpus)
        if recording_now:
            last_on = statistics.median(cpus)
        else:
            last_off = statistics.median(cpus)
        if block % 2 == 1 and last_on and last_off:
            pair_ratios.append(last_on / last_off)
    api_package.seen = recording  # type: ignore[assignment]

    def row(name: str, values: list[float]) -> None:
        print(
            f"{name:<22} n={len(values):>6}  p50={_percentile(values, 0.5) * 1e3:7.3f} ms"
            f"  p95={_percentile(values, 0.95) * 1e3:7.3f} ms"
            f"  mean={statistics.fmean(values) * 1e3:7.3f} ms"
        )

    row("wall, not recording", off)
    row("wall, recording", on)
    row("CPU, not recording", off_cpu)
    row("CPU, recording", on_cpu)
    ratio = statistics.median(on) / statistics.median(off)
    print(f"wall: ratio of medians (recording / not): {ratio:.4f}  ({(ratio - 1) * 100:+.2f} %)")
    ratio = statistics.median(on_cpu) / statistics.median(off_cpu)
    print(f"CPU:  ratio of medians (recording / not): {ratio:.4f}  ({(ratio - 1) * 100:+.2f} %)")
    pairs = statistics.median(pair_ratios)
    print(
        f"CPU:  median of {len(pair_ratios)} block-pair ratios: {pairs:.4f}"
        f"  ({(pairs - 1) * 100:+.2f} %)"
    )

    book = devices.book_of(app)
    with app.test_request_context():
        calls = 200_000
        started = time.perf_counter()
        for _ in range(calls):
            devices.seen(1)
        note = (time.perf_counter() - started) / calls
    issue_median = statistics.median(off_cpu)
    print(
        f"one note alone: {note * 1e6:.3f} µs = {note / issue_median * 100:.3f} % of an issue's CPU"
    )
    print(
        f"rows written by the next flush (one kiosk, {len(on) + 200} tickets seen): {book.flush()}"
    )
    book.stop()
    from queue_app.realtime import events

    app.extensions[events.PUBLISHER_KEY].stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if created:
        import sqlalchemy as sa

        engine = sa.create_engine(args.dburl, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{created}" WITH (FORCE)'))
        engine.dispose()


if __name__ == "__main__":
    main()
