"""Quality: satisfaction ratings, the complaints register, published commitments,
the audit log of configuration changes, and what statistics and estimates keep.

Ratings and complaints carry their ``site_id`` like every row an office creates.
``stats_days`` and ``service_time_profiles`` are caches computed from the ticket
event log only (invariant 6); either can be dropped and rebuilt from it.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, enum_column, intpk, utcnow


class AuditEntry(Base):
    """One change of the configuration (site, service, counter, device, user…): who, when, what.

    ``changes`` maps a field to ``[before, after]``; secrets (passwords, tokens)
    appear only as "changed". Only ever inserted into.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_site_at", "site_id", "at"),
        Index("ix_audit_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Who, as people read it (kept when the user is deleted): an e-mail, a device, "system".
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(16))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    object_label: Mapped[str] = mapped_column(String(200), default="")
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)


class FeedbackSource(enum.StrEnum):
    TABLET = "tablet"  # the counter's tablet, right after service
    WEB = "web"  # the citizen's tracking page


class Feedback(Base):
    """A citizen's rating (1-5) of one served ticket, with an optional comment."""

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        Index("ix_feedback_site_day", "site_id", "service_day"),
        # What the retention job still has to look at.
        Index(
            "ix_feedback_unpurged",
            "created_at",
            postgresql_where=text("purged_at IS NULL"),
            sqlite_where=text("purged_at IS NULL"),
        ),
    )

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    # Once per ticket, whichever way it is given.
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), unique=True
    )
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counters.id", ondelete="SET NULL"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    source: Mapped[FeedbackSource] = mapped_column(enum_column(FeedbackSource, "feedback_source"))
    rating: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    # The ticket's service day and site-local hour of issue: statistics group by them.
    service_day: Mapped[date]
    hour: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the retention job erased a comment holding personal data.
    purged_at: Mapped[datetime | None]


class ComplaintKind(enum.StrEnum):
    COMPLAINT = "complaint"
    SUGGESTION = "suggestion"


class ComplaintStatus(enum.StrEnum):
    OPEN = "open"  # received, nobody on it yet
    ASSIGNED = "assigned"  # a staff member is on it
    ANSWERED = "answered"  # an answer was given
    CLOSED = "closed"


class Complaint(Base):
    """An entry of the complaints and suggestions register, answered before ``due_at``."""

    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_site_status_due", "site_id", "status", "due_at"),
        Index("ix_complaints_site_created", "site_id", "created_at"),
        Index(
            "ix_complaints_unpurged",
            "created_at",
            postgresql_where=text("purged_at IS NULL"),
            sqlite_where=text("purged_at IS NULL"),
        ),
    )

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    # Given to the citizen; unguessable, so it also opens the public answer page.
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[ComplaintKind] = mapped_column(enum_column(ComplaintKind, "complaint_kind"))
    status: Mapped[ComplaintStatus] = mapped_column(
        enum_column(ComplaintStatus, "complaint_status"), default=ComplaintStatus.OPEN
    )
    text: Mapped[str] = mapped_column(Text)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="SET NULL"))
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The answer goes to the citizen's phone by SMS (when one was given).
    answer_by_sms: Mapped[bool] = mapped_column(default=False)
    answer_sms_queued_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # Set when the retention job erased the name, phone and personal data in the text.
    purged_at: Mapped[datetime | None]


class CommitmentKind(enum.StrEnum):
    WAIT = "wait"  # target_pct % of citizens called within threshold minutes
    SATISFACTION = "satisfaction"  # target_pct % of ratings at threshold (4) or more
    COMPLAINT_ANSWER = "complaint_answer"  # target_pct % of complaints answered in threshold days


class Commitment(Base):
    """A quality commitment an office publishes, measured every month."""

    __tablename__ = "commitments"
    __table_args__ = (
        CheckConstraint("target_pct BETWEEN 1 AND 100", name="target_pct_range"),
        CheckConstraint("threshold > 0", name="threshold_positive"),
    )

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    kind: Mapped[CommitmentKind] = mapped_column(enum_column(CommitmentKind, "commitment_kind"))
    threshold: Mapped[int]
    target_pct: Mapped[int] = mapped_column(SmallInteger)
    # A waiting-time commitment may concern one service only.
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StatsDay(Base):
    """The statistics of one closed site-local day, computed from the ticket event log."""

    __tablename__ = "stats_days"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(primary_key=True)
    # Format of ``data``; rows of another version are computed again.
    version: Mapped[int] = mapped_column(SmallInteger)
    data: Mapped[dict[str, Any]]
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceTimeProfile(Base):
    """Mean service time of a service at one site-local hour (-1: all hours), learned
    from the event log by a periodic job; read through a cache when tickets are issued."""

    __tablename__ = "service_time_profiles"
    __table_args__ = (CheckConstraint("hour BETWEEN -1 AND 23", name="hour_range"),)

    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    mean_seconds: Mapped[int]
    samples: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
