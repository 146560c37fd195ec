"""The server's print thread: prints the jobs of printers it reaches itself, after commit.

Woken by the commit that spooled a job (so the paper comes out while the
kiosk still shows the ticket), it claims due jobs, sends each printer its
bytes outside any transaction (one thread per printer, so a printer that does
not answer delays no other kiosk), then records the outcome. It sleeps until
the next retry is due and stops after a minute with nothing to do; the
scheduler's ``print_spool`` job wakes it again in the worker process.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..models import PrintJob, utcnow
from . import spool

log = logging.getLogger(__name__)

WORKER_KEY = "queue_app.print_worker"
IDLE_SECONDS = 60.0


class PrintWorker:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="queue-app-printer")

    def wake(self) -> None:
        """Have due jobs printed now (starts the thread when it is not running)."""
        with self._lock:
            self._wake.set()
            if self._halt.is_set():
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="queue-app-print-worker", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        idle_since = None
        while not self._halt.is_set():
            self._wake.clear()
            printed, next_due = self.round()
            now = utcnow()
            if printed or next_due is not None:
                idle_since = None
            else:
                idle_since = idle_since or now
                if (now - idle_since).total_seconds() >= IDLE_SECONDS:
                    with self._lock:
                        if not self._wake.is_set():
                            self._thread = None
                            return
            wait = 5.0
            if next_due is not None:
                wait = min(max((next_due - utcnow()).total_seconds(), 0.02), 5.0)
            self._wake.wait(wait)

    def round(self) -> tuple[int, Any]:
        """One round of the thread: :meth:`run_once`, a failure logged (an outage once)."""
        try:
            return self.run_once()
        except Exception as error:
            self.round_failed(error)
            return 0, None

    def round_failed(self, error: Exception) -> None:
        """A round that failed: a database outage is said once for the whole outage."""
        from ..infra.outages import is_unavailable, outage_of

        if is_unavailable(error):
            # Logged when the outage starts, and when a connection works again
            # (infra/outages.py), in this process, whatever the thread; retried in 5 s.
            outage_of(self.app).failed(error)
        else:
            log.error("print spool round failed", exc_info=error)

    def run_once(self) -> tuple[int, Any]:
        """Print every due job once; returns (jobs handled, when the next one is due)."""
        from ..extensions import db

        handled = 0
        with self.app.app_context():
            session = db.session()
            try:
                while True:
                    jobs = spool.claim(session, agent=None)
                    # Claimed jobs are laid out (spool.claim): their payload is set.
                    work = [
                        (job.id, job.device.printer if job.device else None, job.payload or b"")
                        for job in jobs
                    ]
                    db.session.commit()
                    if not work:
                        break
                    handled += len(work)
                    outcomes = self._print_all(work)
                    for job_id, (ok, error, printer) in outcomes.items():
                        job = db.session.get(PrintJob, job_id)
                        if job is None:
                            continue
                        if ok:
                            spool.mark_done(session, job, printer=printer)
                        else:
                            spool.mark_failed(session, job, error or "", printer=printer)
                    db.session.commit()
                with_read = spool.next_due(session)
                db.session.rollback()
                return handled, with_read
            finally:
                try:
                    db.session.remove()
                except Exception:  # the connection died with the database: dropped
                    db.session.close()

    def _print_all(self, work: list[tuple[int, str | None, bytes]]) -> dict[int, tuple]:
        by_printer: dict[str | None, list[tuple[int, bytes]]] = defaultdict(list)
        for job_id, url, payload in work:
            by_printer[url].append((job_id, payload))
        futures = [self._pool.submit(self._print_to, url, jobs) for url, jobs in by_printer.items()]
        outcomes: dict[int, tuple] = {}
        for future in futures:
            outcomes.update(future.result())
        return outcomes

    def _print_to(self, url: str | None, jobs: list[tuple[int, bytes]]) -> dict[int, tuple]:
        from guichet_printer.connections import PrinterError, PrinterNotReady, send, status

        config = self.app.config
        outcomes: dict[int, tuple] = {}
        if not url:
            return {
                job_id: (False, "the kiosk has no printer any more", None) for job_id, _ in jobs
            }
        for index, (job_id, payload) in enumerate(jobs):
            try:
                if not payload:
                    raise PrinterError("nothing to print (the layout failed)")
                query = float(config["PRINT_PAPER_QUERY_SECONDS"])
                report = send(
                    url,
                    payload,
                    float(config["PRINT_TIMEOUT_SECONDS"]),
                    query_paper=query,
                    # Asked first: a printer out of paper keeps the job in the spool (it
                    # prints once the paper is back), not in its buffer.
                    check_first=query > 0,
                )
                outcomes[job_id] = (True, None, report)
            except PrinterNotReady as exc:
                log.info("print job %s waits: %s", job_id, exc)
                for later_id, _ in jobs[index:]:
                    outcomes[later_id] = (False, str(exc), exc.status)
                break
            except PrinterError as exc:
                log.warning("print job %s: %s", job_id, exc)
                report = status(url, timeout=1.0)
                # The printer is down: the next jobs wait for the retry too.
                for later_id, _ in jobs[index:]:
                    outcomes[later_id] = (False, str(exc), report)
                break
        return outcomes

    def stop(self, timeout: float = 5.0) -> None:
        self._halt.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._pool.shutdown(wait=False)


def _after_commit(session: Session) -> None:
    woken = session.info.pop(spool.WAKE_KEY, None)
    if not woken:
        return
    from flask import current_app

    worker: PrintWorker | None = current_app.extensions.get(WORKER_KEY)
    if worker is not None and current_app.config.get("PRINT_IN_PROCESS", True):
        worker.wake()


def _after_rollback(session: Session) -> None:
    session.info.pop(spool.WAKE_KEY, None)


def install(app: Flask, session_target: Any) -> PrintWorker:
    """Give the app its print thread and wake it after commits that spooled a job."""
    if not event.contains(session_target, "after_commit", _after_commit):
        event.listen(session_target, "after_commit", _after_commit)
        event.listen(session_target, "after_rollback", _after_rollback)
    worker = PrintWorker(app)
    app.extensions[WORKER_KEY] = worker
    return worker


def run() -> None:
    """Scheduler job: have due retries printed (the thread sleeps until the next one after that)."""
    from flask import current_app

    worker: PrintWorker | None = current_app.extensions.get(WORKER_KEY)
    if worker is not None:
        worker.wake()
