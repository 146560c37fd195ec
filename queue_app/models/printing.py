"""The print spool: one durable row per ticket to print."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, enum_column, intpk, utcnow

if TYPE_CHECKING:
    from .accounts import Device
    from .tickets import Ticket


class PrintJobStatus(enum.StrEnum):
    PENDING = "pending"
    # Handed to a printer (server thread or print agent) until ``next_attempt_at``
    # (the lease); past it the job is due again.
    PRINTING = "printing"
    DONE = "done"
    # Given up (too old or too many attempts): staff see it and may reprint.
    FAILED = "failed"


class PrintJobKind(enum.StrEnum):
    TICKET = "ticket"
    REPRINT = "reprint"


class PrintJob(Base):
    """ESC/POS bytes for one kiosk printer, printed once after the ticket's commit."""

    __tablename__ = "print_jobs"
    __table_args__ = (
        # The spool: jobs still to print, in due order (small: done rows drop out).
        Index(
            "ix_print_jobs_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'printing')"),
            sqlite_where=text("status IN ('pending', 'printing')"),
        ),
        Index("ix_print_jobs_site_status", "site_id", "status", "created_at"),
    )

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    # The kiosk whose printer prints it.
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    # The print agent that claims it; None: the server prints to the kiosk's printer URL.
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), index=True
    )
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[PrintJobKind] = mapped_column(
        enum_column(PrintJobKind, "print_job_kind"), default=PrintJobKind.TICKET
    )
    # The ESC/POS bytes; None until rendered: a ticket's job is written in the
    # ticket's transaction and rendered when a printer takes it (spool.claim), so
    # that laying out the paper holds no lock of the issue.
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    # What the paper tells (the people ahead and the estimate at issue).
    position: Mapped[int | None]
    wait_minutes: Mapped[int | None]
    status: Mapped[PrintJobStatus] = mapped_column(
        enum_column(PrintJobStatus, "print_job_status"), default=PrintJobStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    printed_at: Mapped[datetime | None]

    device: Mapped[Device | None] = relationship(foreign_keys=[device_id])
    ticket: Mapped[Ticket | None] = relationship()

    def __repr__(self) -> str:
        return f"<PrintJob {self.id} {self.status}>"
