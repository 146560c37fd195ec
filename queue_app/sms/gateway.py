"""The SMS gateway interface every provider implements, and what crosses it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ..models import MessageStatus


@dataclass(frozen=True)
class Outgoing:
    """One message to send. ``key`` is the outbox row's idempotency key."""

    key: str
    to: str  # E.164
    body: str
    channel: str = "sms"  # or "whatsapp"
    # WhatsApp outside the 24-hour window: send the approved template instead.
    use_template: bool = False


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str
    status: MessageStatus
    provider_status: str | None = None


@dataclass(frozen=True)
class Inbound:
    """A message a citizen sent (already verified as coming from the provider)."""

    provider: str
    message_id: str
    sender: str  # as the provider wrote it (normalised to E.164 by the caller)
    body: str
    to: str | None = None
    channel: str = "sms"


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery report: the provider's id (or our key) and the normalised status."""

    provider: str
    status: MessageStatus
    provider_message_id: str | None = None
    key: str | None = None
    provider_status: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class WebhookRequest:
    """What a provider's webhook view hands to the gateway: URL as the provider signed it."""

    url: str
    headers: Mapping[str, str]
    body: bytes
    form: Mapping[str, str]


class GatewayError(Exception):
    """A failed send. ``permanent`` ones (invalid number, rejected text) are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class SmsGateway(Protocol):
    """What the outbox and the webhooks need from a provider."""

    name: str
    # Whether citizens can write to us through it (booking by SMS).
    two_way: bool

    def send(self, message: Outgoing) -> SendResult:
        """Hand the message to the provider; raises GatewayError."""
        ...

    def lookup(self, message: Outgoing, since: datetime) -> SendResult | None:
        """After a crash between 'provider accepted' and 'row marked sent': does the
        provider already have this message (sent after ``since``)? None when not, or
        when the provider cannot tell (then its own idempotency covers a resend)."""
        ...

    def close(self) -> None:
        """Release connections (the outbox closes its gateways after each run)."""
        ...

    def verify_webhook(self, request: WebhookRequest) -> bool:
        """Whether a webhook request really comes from the provider."""
        ...

    def parse_webhook(self, request: WebhookRequest) -> list[Inbound | StatusUpdate]:
        """The inbound messages and delivery reports a verified webhook carries."""
        ...
