"""The domain model: typed SQLAlchemy 2 mappings. Models never commit nor do I/O."""

from .accounts import ApiToken, Device, DeviceKind, Role, User, UserSession, user_sites
from .base import Base, utcnow
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
    "Base",
    "Counter",
    "CounterService",
    "CounterState",
    "Device",
    "DeviceKind",
    "EventKind",
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
    "UserSession",
    "user_sites",
    "utcnow",
]
