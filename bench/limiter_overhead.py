"""What the rate limiter costs the requests it does not limit (in-process, CPU only).

Times GET /healthz and a display's GET /api/v1/sites/<slug>/board through
Flask's test client (no network, one thread; the figure is the CPU time of the
request's thread, so other programs on the machine hardly change it) on three
apps over the same SQLite database:

* baseline: no limiter at all (RATELIMIT_ENABLED = False);
* stock: Flask-Limiter as it is used out of the box, with its before_request,
  after_request and teardown hooks on every request (as Guichet once used it);
* guichet: queue_app.security.ratelimit.Limiter, limits checked only by the views
  they decorate, and the sign-in limits inside the sign-in views.

    .venv/bin/python bench/limiter_overhead.py --num 5000
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build(folder: Path, template: Path, variant: str) -> tuple[Any, dict[str, str], str]:
    from flask_limiter import Limiter as StockLimiter
    from flask_limiter.util import get_remote_address

    from queue_app import create_app
    from queue_app.extensions import db
    from queue_app.models import DeviceKind
    from queue_app.queue.accounts import create_device
    from queue_app.queue.sites import create_site

    path = folder / f"{variant}.db"
    shutil.copy(template, path)
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{path}",
            "INSTANCE_PATH": str(folder),
            "SECRET_KEY": "bench",
            "RATELIMIT_ENABLED": variant != "baseline",
            "RATELIMIT_STORAGE_URI": "memory://",
            "LOG_LEVEL": "WARNING",
        }
    )
    if variant == "stock":
        stock = StockLimiter(key_func=get_remote_address, default_limits=[])
        stock.init_app(app)

        # One limited view, as the app had (the sign-in routes).
        @app.post("/limited-by-stock")
        @stock.limit("10 per minute")
        def limited() -> str:
            return "ok"

    with app.app_context():
        site = create_site(db.session, "bench", "Bench office", "Africa/Dakar")
        _, token = create_device(db.session, site, DeviceKind.DISPLAY, "display")
        db.session.commit()
    return app, {"Authorization": f"Bearer {token}"}, "/api/v1/sites/bench/board"


def measure(app: Any, path: str, headers: dict[str, str], num: int) -> list[float]:
    client = app.test_client()
    for _ in range(min(num // 10, 200)):  # warm up
        client.get(path, headers=headers)
    timings = []
    for _ in range(num):
        # CPU time of this thread: what the request costs, whatever else the machine runs.
        start = time.thread_time()
        response = client.get(path, headers=headers)
        timings.append(time.thread_time() - start)
        if response.status_code != 200:
            raise SystemExit(f"GET {path} answered {response.status_code}")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--num", type=int, default=5000, help="requests per path and variant")
    args = parser.parse_args()

    from queue_app import create_app
    from queue_app.cli.commands import upgrade_database
    from queue_app.extensions import db

    print(__doc__)
    with tempfile.TemporaryDirectory(prefix="guichet-bench-") as tmp:
        folder = Path(tmp)
        template = folder / "template.db"
        app = create_app({"DATABASE_URL": f"sqlite:///{template}", "INSTANCE_PATH": tmp})
        with app.app_context():
            upgrade_database()
            db.session.remove()
            db.engine.dispose()  # checkpoints the WAL into the file copied below
        variants = ("baseline", "stock", "guichet")
        apps = {variant: build(folder, template, variant) for variant in variants}
        print(f"{'path':<28} {'variant':<9} {'CPU µs/request':>15} {'vs baseline':>12}")
        for label, use_board in (("GET /healthz", False), ("GET board (display token)", True)):
            medians: dict[str, list[float]] = {}
            # Interleaved rounds, so that noise from the rest of the machine hits all
            # variants alike; the best round's median is the cost without that noise.
            rounds = 7
            for _ in range(rounds):
                for variant, (application, headers, board) in apps.items():
                    path = board if use_board else "/healthz"
                    timings = measure(
                        application, path, headers if use_board else {}, args.num // rounds
                    )
                    medians.setdefault(variant, []).append(statistics.median(timings))
            base = min(medians["baseline"])
            for variant, values in medians.items():
                best = min(values)
                print(f"{label:<28} {variant:<9} {best * 1e6:15.1f} {best / base:11.2f}x")


if __name__ == "__main__":
    main()
