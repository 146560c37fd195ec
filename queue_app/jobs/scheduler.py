"""The APScheduler set-up shared by the worker and the in-process scheduler."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from ..extensions import db
from ..ops import alerts, printer_health
from ..printing import worker as print_spool
from . import appointments, backup, day_close, idempotency, retention, stats

log = logging.getLogger(__name__)

# Intervals are numbers, or the name of the setting that holds one.
JOBS: list[tuple[str, Callable[[], Any], dict[str, int | str]]] = [
    ("day_close", day_close.run, {"minutes": 1}),
    ("retention", retention.run, {"hours": 1}),
    # Appointments and SMS (jobs/appointments.py).
    ("sms_outbox", appointments.deliver_outbox, {"seconds": "SMS_OUTBOX_INTERVAL_SECONDS"}),
    ("appointment_reminders", appointments.send_reminders, {"minutes": 1}),
    ("turn_near_notices", appointments.send_turn_near, {"seconds": 30}),
    ("appointment_day_close", appointments.close_days, {"minutes": 1}),
    ("idempotency", idempotency.run, {"hours": 1}),
    ("print_spool", print_spool.run, {"seconds": 10}),
    ("retention_quality", retention.run_quality, {"hours": 1}),
    ("stats_rollup", stats.roll_up_all, {"minutes": 10}),
    ("service_times", stats.learn_all, {"minutes": 30}),
    # Once a day after BACKUP_TIME (the day's file is the mark): checked every 5 minutes.
    ("backup", backup.run, {"minutes": 5}),
    # Operations (ops/): alerts, and printers the server drives asked while idle.
    ("alerts", alerts.run, {"seconds": "ALERTS_INTERVAL_SECONDS"}),
    ("printer_health", printer_health.check_idle_printers, {"seconds": 60}),
]


def run_job(app: Flask, name: str, job: Callable[[], Any]) -> Any:
    """Run one job in an app context; a failure is logged, never kills the scheduler."""
    from ..ops.logs import current_operation

    token = current_operation.set(f"job:{name}")
    try:
        return _run_job(app, name, job)
    finally:
        current_operation.reset(token)


def _run_job(app: Flask, name: str, job: Callable[[], Any]) -> Any:
    from ..infra.outages import is_unavailable, outage_of

    with app.app_context():
        try:
            return job()
        except Exception as error:
            if is_unavailable(error):
                # A database outage: said once for the whole outage, retried next run.
                outage_of(app).failed(error)
            else:
                log.exception("job %s failed", name)
            try:
                db.session.rollback()
            except Exception:
                # The scoped session does not forward invalidate(): the session itself.
                db.session().invalidate()
            return None
        finally:
            db.session.remove()


def build_scheduler(app: Flask, *, blocking: bool) -> BackgroundScheduler | BlockingScheduler:
    """A scheduler with every periodic job (explicit ids, one instance each, coalesced)."""
    scheduler_class = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = scheduler_class(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    for name, job, interval in JOBS:
        scheduler.add_job(
            run_job,
            "interval",
            args=[app, name, job],
            id=name,
            name=name,
            replace_existing=True,
            # First run at start-up: a restart in the morning closes yesterday at once.
            next_run_time=datetime.now(UTC),
            **{
                unit: float(app.config[v]) if isinstance(v, str) else v
                for unit, v in interval.items()
            },
        )
    return scheduler
