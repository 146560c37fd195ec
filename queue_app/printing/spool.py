"""The print spool: jobs created in the ticket's transaction, printed after commit, once.

A job is ``pending`` until a printer takes it: the server's print thread for a
kiosk whose printer it reaches itself (``tcp://``, ``file://``…), or the print
agent the kiosk names (``print_agent``). Taking it (:func:`claim`) makes it
``printing`` for a lease; the printer's answer makes it ``done``, or
``pending`` again with a backoff, or ``failed`` once it is too old to matter.
A lease that runs out (the process or agent died) makes it due again.

Guarantee: a spooled ticket is printed at least once while its printer comes
back within ``PRINT_GIVE_UP_MINUTES``, and otherwise listed as failed for staff
to reprint. It is printed exactly once unless the printing process dies in the
moment between the last byte sent and the commit of ``done`` (the print agent
closes even that gap across network cuts with its local journal): then it is
printed twice rather than lost.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ..models import (
    Device,
    DeviceKind,
    PrintJob,
    PrintJobKind,
    PrintJobStatus,
    Site,
    Ticket,
    utcnow,
)
from ..queue import errors
from ..queue.actors import Actor
from ..realtime import events
from ..realtime.publish import iso

log = logging.getLogger(__name__)

WAKE_KEY = "queue_app.print_wake"
DUE_STATUSES = (PrintJobStatus.PENDING, PrintJobStatus.PRINTING)


class NoPrinter(errors.Conflict):
    code = "no_printer"
    default_message = _l("No ticket printer is set up for this kiosk.")


def prints(device: Device | None) -> bool:
    """Whether tickets issued by this device are printed (a kiosk with a printer or agent)."""
    return (
        device is not None
        and device.kind == DeviceKind.KIOSK
        and (bool(device.printer) or device.print_agent_id is not None)
    )


def spool(
    session: Session,
    ticket: Ticket,
    device: Device,
    payload: bytes | None,
    *,
    kind: PrintJobKind = PrintJobKind.TICKET,
    position: int | None = None,
    wait: int | None = None,
    now: datetime | None = None,
) -> PrintJob:
    """Add a job for the kiosk's printer; it is handed out after this transaction commits.

    ``payload`` None: rendered when a printer takes it, from the ticket and
    ``position`` and ``wait``.
    """
    now = now or utcnow()
    job = PrintJob(
        site_id=ticket.site_id,
        device_id=device.id,
        agent_id=device.print_agent_id,
        ticket_id=ticket.id,
        kind=kind,
        payload=payload,
        position=position,
        wait_minutes=wait,
        status=PrintJobStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(job)
    session.flush()
    if job.agent_id is not None:
        # Wakes the agent at once; it also polls, so a lost push only delays.
        events.queue(session, events.PRINT_JOB, events.printer_room(job.agent_id), {"id": job.id})
    else:
        session.info.setdefault(WAKE_KEY, set()).add(job.id)
    return job


def spool_ticket(
    session: Session,
    ticket: Ticket,
    device: Device | None,
    position: int | None,
    wait: int | None,
    *,
    now: datetime | None = None,
) -> PrintJob | None:
    """Spool the ticket a kiosk just issued, when that kiosk prints; None otherwise.

    One INSERT in the ticket's transaction, so the job is as durable as the
    ticket; the paper is laid out when a printer takes the job (:func:`claim`),
    after the commit and outside the issue's locks.
    """
    if device is None or not prints(device):
        return None
    return spool(session, ticket, device, None, position=position, wait=wait, now=now)


def _render_due(jobs: list[PrintJob]) -> list[PrintJob]:
    """Lay out the paper of claimed jobs spooled without it; a job that cannot be is failed.

    Rendering cannot lose a ticket: a layout error leaves a failed job for staff
    (the ticket itself stands, and the kiosk showed it on screen).
    """
    from .render import render

    ready = []
    for job in jobs:
        if job.payload is None:
            try:
                if job.ticket is None:
                    raise LookupError("the ticket is gone")
                job.payload = render(job.ticket, job.device, job.position, job.wait_minutes)
            except Exception as exc:
                log.exception("ticket %s could not be laid out for printing", job.ticket_id)
                job.payload = b""
                job.status = PrintJobStatus.FAILED
                job.last_error = f"layout: {exc}"[:500]
                continue
        ready.append(job)
    return ready


def printing_kiosk_for(session: Session, ticket: Ticket) -> Device:
    """The kiosk that reprints a ticket: its issuer, else the site's first printing kiosk."""
    issuer = session.get(Device, ticket.device_id) if ticket.device_id else None
    if prints(issuer) and issuer is not None and issuer.revoked_at is None:
        return issuer
    kiosks = session.scalars(
        select(Device)
        .where(
            Device.site_id == ticket.site_id,
            Device.kind == DeviceKind.KIOSK,
            Device.revoked_at.is_(None),
        )
        .order_by(Device.id)
    )
    for kiosk in kiosks:
        if prints(kiosk):
            return kiosk
    raise NoPrinter()


def reprint_ticket(
    session: Session, ticket: Ticket, *, actor: Actor, now: datetime | None = None
) -> PrintJob:
    """Print a ticket again (a citizen lost it), marked as a duplicate, with its current place.

    A reprint still waiting for the printer is returned instead of a second one.
    """
    from ..queue.estimates import position_and_wait
    from .render import render

    now = now or utcnow()
    device = printing_kiosk_for(session, ticket)
    waiting = session.scalar(
        select(PrintJob).where(
            PrintJob.ticket_id == ticket.id,
            PrintJob.kind == PrintJobKind.REPRINT,
            PrintJob.status.in_(DUE_STATUSES),
        )
    )
    if waiting is not None:
        return waiting
    payload = render(ticket, device, *position_and_wait(session, ticket), reprint=True)
    job = spool(session, ticket, device, payload, kind=PrintJobKind.REPRINT, now=now)
    log.info("ticket %s reprint requested (job %s, user %s)", ticket.label, job.id, actor.user_id)
    return job


def retry_job(
    session: Session, job: PrintJob, *, actor: Actor, now: datetime | None = None
) -> PrintJob:
    """Reprint from the spool: a failed job is queued again, a printed one as a duplicate."""
    now = now or utcnow()
    if job.status == PrintJobStatus.FAILED and (job.payload or job.ticket is not None):
        if not job.payload:
            job.payload = None  # never laid out, or the layout failed: laid out when taken
        job.status = PrintJobStatus.PENDING
        job.attempts = 0
        job.next_attempt_at = now
        job.created_at = now  # a fresh give-up delay
        if job.agent_id is not None:
            events.queue(
                session, events.PRINT_JOB, events.printer_room(job.agent_id), {"id": job.id}
            )
        else:
            session.info.setdefault(WAKE_KEY, set()).add(job.id)
        return job
    if job.ticket is None:
        raise errors.InvalidTransition(reason="no_ticket")
    if job.status in DUE_STATUSES:
        return job
    return reprint_ticket(session, job.ticket, actor=actor, now=now)


def claim(
    session: Session,
    *,
    agent: Device | None,
    now: datetime | None = None,
    limit: int = 20,
) -> list[PrintJob]:
    """Take the due jobs of a print agent (or, with None, the server's own) for one lease.

    Row-locked with SKIP LOCKED on PostgreSQL, so two processes never take the
    same job; the caller commits before printing.
    """
    now = now or utcnow()
    lease = timedelta(seconds=float(current_app.config["PRINT_LEASE_SECONDS"]))
    route = PrintJob.agent_id.is_(None) if agent is None else PrintJob.agent_id == agent.id
    due = PrintJob.status.in_(DUE_STATUSES) & (PrintJob.next_attempt_at <= now)
    # When one job of a printer is due, its older pending ones go first: a printer
    # that comes back prints its queue in the order the tickets were issued.
    printers = select(PrintJob.device_id).where(route, due).distinct().scalar_subquery()
    waiting = (PrintJob.status == PrintJobStatus.PENDING) & PrintJob.device_id.in_(printers)
    jobs = list(
        session.scalars(
            select(PrintJob)
            .where(route, due | waiting)
            .order_by(PrintJob.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for job in jobs:
        job.status = PrintJobStatus.PRINTING
        job.attempts += 1
        job.next_attempt_at = now + lease
    if agent is not None:
        agent.last_seen_at = now
    return _render_due(jobs)


def mark_done(
    session: Session,
    job: PrintJob,
    *,
    printer: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> PrintJob:
    """The bytes reached the printer (idempotent: a repeated answer changes nothing)."""
    now = now or utcnow()
    if job.status != PrintJobStatus.DONE:
        job.status = PrintJobStatus.DONE
        job.printed_at = now
        job.last_error = None
    record_status(job.device, {"online": True, "error": None, **(printer or {})}, now)
    return job


def mark_failed(
    session: Session,
    job: PrintJob,
    error: str,
    *,
    printer: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> PrintJob:
    """The printer did not take the bytes: retry later with backoff, or give up when too old."""
    now = now or utcnow()
    record_status(job.device, {"online": False, "error": error, **(printer or {})}, now)
    if job.status == PrintJobStatus.DONE:
        return job  # an earlier attempt printed it
    config = current_app.config
    job.last_error = error[:500]
    give_up = job.created_at + timedelta(minutes=float(config["PRINT_GIVE_UP_MINUTES"]))
    if now >= give_up:
        job.status = PrintJobStatus.FAILED
        log.warning("print job %s failed for good after %d attempts", job.id, job.attempts)
        return job
    delay = float(config["PRINT_RETRY_BASE_SECONDS"]) * 2 ** max(job.attempts - 1, 0)
    job.status = PrintJobStatus.PENDING
    job.next_attempt_at = now + timedelta(
        seconds=min(delay, float(config["PRINT_RETRY_MAX_SECONDS"]))
    )
    return job


def record_status(device: Device | None, report: dict[str, Any], now: datetime) -> None:
    """Keep a kiosk printer's last known state (shown to staff and on the kiosk)."""
    if device is None:
        return
    previous = dict(device.printer_status or {})
    paper = report.get("paper", previous.get("paper") if report.get("online") else None)
    cover = report.get("cover", previous.get("cover") if report.get("online") else None)
    device.printer_status = {
        "online": bool(report.get("online")),
        "paper": paper if paper in ("ok", "low", "out") else None,
        "cover": cover if cover in ("open", "closed") else None,
        "error": (str(report["error"])[:300] if report.get("error") else None),
        "at": iso(now),
    }


def get_job(session: Session, job_id: int) -> PrintJob:
    """A print job, else NotFound."""
    job = session.get(PrintJob, job_id)
    if job is None:
        raise errors.NotFound(print_job=job_id)
    return job


def list_jobs(
    session: Session, site: Site, *, status: PrintJobStatus | None = None, limit: int = 200
) -> list[PrintJob]:
    """A site's recent print jobs, newest first (failed ones for staff to act on)."""
    stmt = (
        select(PrintJob)
        .where(PrintJob.site_id == site.id)
        .options(selectinload(PrintJob.ticket), selectinload(PrintJob.device))
    )
    if status is not None:
        stmt = stmt.where(PrintJob.status == status)
    return list(session.scalars(stmt.order_by(PrintJob.id.desc()).limit(limit)))


def pending_count(session: Session, device: Device) -> int:
    """Jobs of a kiosk still waiting for its printer."""
    return int(
        session.scalar(
            select(func.count(PrintJob.id)).where(
                PrintJob.device_id == device.id, PrintJob.status.in_(DUE_STATUSES)
            )
        )
        or 0
    )


def next_due(session: Session) -> datetime | None:
    """When the server's next job is due (its print thread sleeps until then)."""
    return session.scalar(
        select(func.min(PrintJob.next_attempt_at)).where(
            PrintJob.agent_id.is_(None), PrintJob.status.in_(DUE_STATUSES)
        )
    )


__all__ = [
    "NoPrinter",
    "claim",
    "get_job",
    "list_jobs",
    "mark_done",
    "mark_failed",
    "next_due",
    "pending_count",
    "prints",
    "reprint_ticket",
    "retry_job",
    "spool",
    "spool_ticket",
]


def print_job_brief(session: Session, ticket: Ticket) -> dict[str, Any] | None:
    """``{"id", "status"}`` of a ticket's first print job, for the kiosk that issued it."""
    row = session.execute(
        select(PrintJob.id, PrintJob.status)
        .where(PrintJob.ticket_id == ticket.id, PrintJob.kind == PrintJobKind.TICKET)
        .order_by(PrintJob.id)
        .limit(1)
    ).first()
    return {"id": row[0], "status": row[1].value} if row is not None else None
