"""The domain model: typed SQLAlchemy 2 mappings. Models never commit nor do I/O."""

from .accounts import ApiToken, Device, DeviceKind, Role, User, user_sites
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
from .sites import WEEKDAYS, Counter, CounterService, CounterState, Service, Site, SiteClosure
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
    "Base",
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
    "PriorityClass",
    "Role",
    "Service",
    "Site",
    "SiteClosure",
    "Ticket",
    "TicketEvent",
    "TicketSequence",
    "TicketSource",
    "TicketStatus",
    "User",
    "VoiceClip",
    "device_services",
    "user_sites",
    "utcnow",
]
