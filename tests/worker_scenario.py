"""The worker's day, in a process of its own.

    python -m tests.worker_scenario DATABASE_URL INSTANCE [REDIS_URL CHANNEL]

Builds the app as `queue-app worker` does (create_worker_app), loads the demo
office, has its kiosk issue two tickets (one printed, one with a phone number,
one left over from two days ago), runs every scheduled job once, and prints
a JSON report: the jobs that failed, the SMS the console gateway sent, the
bytes the kiosk's printer received, and which web-side modules were imported.
tests/test_worker_app.py runs it (a test process has imported everything).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

# The web side: pages, API, Socket.IO server and clients, forms, rate limits.
WEB_MODULES = (
    "aiohttp",
    "apispec",
    "engineio",
    "flask_limiter",
    "flask_smorest",
    "flask_socketio",
    "flask_wtf",
    "gevent",
    "limits",
    "marshmallow",
    "queue_app.api",
    "queue_app.realtime.sockets",
    "queue_app.web",
    "rich",
    "socketio",
    "webargs",
    "wtforms",
)


class Failures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def main(
    database_url: str, instance: str, redis_url: str | None = None, channel: str = "socketio"
) -> dict[str, object]:
    from sqlalchemy import select

    from queue_app import create_worker_app
    from queue_app.cli.commands import upgrade_database
    from queue_app.demo import load_office, read_spec
    from queue_app.extensions import db
    from queue_app.jobs.scheduler import JOBS, run_job
    from queue_app.models import Device, DeviceKind, Service, TicketSource
    from queue_app.printing.spool import spool_ticket
    from queue_app.queue import SYSTEM, issue_ticket
    from queue_app.realtime import events

    failures = Failures()
    logging.getLogger().addHandler(failures)
    app = create_worker_app(
        {
            "INSTANCE_PATH": instance,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "worker-scenario",
            "PUBLIC_URL": "http://testserver",
            "REDIS_URL": redis_url,
            "SOCKETIO_CHANNEL": channel,
            # Texts are held outside sending hours: this scenario runs at any hour.
            "SMS_SENDING_HOURS": ["00:00", "23:59:59"],
            "LOG_LEVEL": "WARNING",
        }
    )
    with app.app_context():
        upgrade_database()
        office = load_office(db.session, read_spec(), "worker-scenario", instance_path=instance)
        site = office.site
        kiosk = db.session.scalar(
            select(Device).where(Device.site_id == site.id, Device.kind == DeviceKind.KIOSK)
        )
        cni = db.session.scalar(
            select(Service).where(Service.site_id == site.id, Service.code == "CNI")
        )
        stale = issue_ticket(
            db.session,
            site,
            cni,
            actor=SYSTEM,
            source=TicketSource.KIOSK,
            enforce_hours=False,
            now=datetime.now(UTC) - timedelta(days=2),
        ).ticket
        printed = issue_ticket(
            db.session, site, cni, actor=SYSTEM, source=TicketSource.KIOSK, enforce_hours=False
        ).ticket
        texted = issue_ticket(
            db.session,
            site,
            cni,
            actor=SYSTEM,
            source=TicketSource.KIOSK,
            phone="+221771234567",
            enforce_hours=False,
        ).ticket
        spool_ticket(db.session, printed, kiosk, 0, 0)
        db.session.commit()
        printer = Path(str(kiosk.printer).removeprefix("file://"))
        labels = {"stale": stale.label, "printed": printed.label, "texted": texted.label}
        db.session.remove()

    # Twice, as the scheduler would: the first turn queues the turn-near SMS, the second sends it.
    results = [{name: run_job(app, name, job) for name, job, _interval in JOBS} for _ in range(2)]
    # What the state publisher's thread has still to push, pushed now (the process ends here).
    app.extensions[events.PUBLISHER_KEY].publish_pending()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (printer.exists() and printer.stat().st_size):
        time.sleep(0.05)  # the print worker's thread prints after the commit
    console = Path(app.config["SMS_CONSOLE_PATH"])
    lines = console.read_text().splitlines() if console.exists() else []
    sms = [json.loads(line) for line in lines]
    from queue_app.models import Ticket

    with app.app_context():
        stale_status = db.session.get(Ticket, stale.id).status.value  # type: ignore[union-attr]
    return {
        "failures": failures.messages,
        "results": results,
        "labels": labels,
        "stale_status": stale_status,
        "sms": [record["body"] for record in sms],
        "printed_bytes": printer.stat().st_size if printer.exists() else 0,
        "web_modules": sorted(
            name
            for name in sys.modules
            if any(name == web or name.startswith(web + ".") for web in WEB_MODULES)
        ),
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))  # noqa: T201
