"""The domain model: typed SQLAlchemy 2 mappings. Models never commit nor do I/O."""

from .accounts import ApiToken, Device, DeviceKind, Role, User, UserSession, user_sites
from .alerts import Alert
from .appointments import (
    Appointment,
    AppointmentStatus,
    BookingChannel,
    SlotBooking,
    SmsConversation,
)
from .base import Base, utcnow
from .display import VoiceClip, device_services
from .idempotency import IdempotencyKey
from .outbox import InboundMessage, MessageStatus, OutboundMessage, SmsGatewaySettings
from .printing import PrintJob, PrintJobKind, PrintJobStatus
from .quality import (
    AuditEntry,
    Commitment,
    CommitmentKind,
    Complaint,
    ComplaintKind,
    ComplaintStatus,
    Feedback,
    FeedbackSource,
    ServiceTimeProfile,
    StatsDay,
)
from .sites import (
    WEEKDAYS,
    Counter,
    CounterService,
    CounterState,
    PriorityRule,
    Service,
    Site,
    SiteClosure,
)
from .tickets import (
    ACTIVE_STATUSES,
    PRIORITY_RANK,
    EventKind,
    PriorityClass,
    Ticket,
    TicketEvent,
    TicketSequence,
    TicketSource,
    TicketStatus,
)

__all__ = [
    "Alert",
    "ACTIVE_STATUSES",
    "PRIORITY_RANK",
    "WEEKDAYS",
    "ApiToken",
    "Appointment",
    "AppointmentStatus",
    "BookingChannel",
    "InboundMessage",
    "MessageStatus",
    "OutboundMessage",
    "SlotBooking",
    "SmsConversation",
    "SmsGatewaySettings",
    "AuditEntry",
    "Base",
    "Commitment",
    "CommitmentKind",
    "Complaint",
    "ComplaintKind",
    "ComplaintStatus",
    "Counter",
    "CounterService",
    "CounterState",
    "Device",
    "DeviceKind",
    "EventKind",
    "IdempotencyKey",
    "PrintJob",
    "PrintJobKind",
    "PrintJobStatus",
    "Feedback",
    "FeedbackSource",
    "PriorityClass",
    "PriorityRule",
    "Role",
    "Service",
    "ServiceTimeProfile",
    "Site",
    "SiteClosure",
    "StatsDay",
    "Ticket",
    "TicketEvent",
    "TicketSequence",
    "TicketSource",
    "TicketStatus",
    "User",
    "VoiceClip",
    "device_services",
    "UserSession",
    "user_sites",
    "utcnow",
]
