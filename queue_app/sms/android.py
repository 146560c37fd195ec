"""SMS Gateway for Android: an Android phone with the office's local SIM, two-way.

Sending uses the ``android-sms-gateway`` client (local server on the phone, or
the cloud relay). Our idempotency key becomes the message id, so a resend after
a crash is refused by the gateway as a duplicate and the existing message is
looked up instead. Webhooks (received, sent, delivered, failed) are signed with
HMAC-SHA256 over the raw body followed by the X-Timestamp header.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import requests
from android_sms_gateway import client as asg_client
from android_sms_gateway import domain as asg_domain
from android_sms_gateway import errors as asg_errors
from android_sms_gateway.http import RequestsHttpClient

from ..models import MessageStatus
from .gateway import (
    GatewayError,
    Inbound,
    Outgoing,
    SendResult,
    StatusUpdate,
    WebhookRequest,
)

STATES = {
    "Pending": MessageStatus.QUEUED,
    "Processed": MessageStatus.QUEUED,
    "Sent": MessageStatus.SENT,
    "Delivered": MessageStatus.DELIVERED,
    "Failed": MessageStatus.FAILED,
    "Cancelling": MessageStatus.FAILED,
    "Cancelled": MessageStatus.FAILED,
}
EVENTS = {
    "sms:sent": MessageStatus.SENT,
    "sms:delivered": MessageStatus.DELIVERED,
    "sms:failed": MessageStatus.FAILED,
}


def message_id(key: str) -> str:
    """The gateway's message id for an outbox key (stable, short, URL-safe)."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class _TimeoutSession(requests.Session):
    """The client library sets no timeout: a phone off the network must not hang the worker."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout
        self._session: _TimeoutSession | None = None

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, **kwargs)


class AndroidGateway:
    name = "android"
    two_way = True

    def __init__(
        self,
        *,
        base_url: str,
        login: str | None,
        password: str,
        signing_key: str | None,
        tolerance_seconds: float = 300,
        timeout: float = 10,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.login = login
        self.password = password
        self.signing_key = signing_key
        self.tolerance = tolerance_seconds
        self.timeout = timeout
        self._session: _TimeoutSession | None = None

    def _client(self) -> asg_client.APIClient:
        if self._session is None:
            self._session = _TimeoutSession(self.timeout)
        http = RequestsHttpClient(session=self._session)
        return asg_client.APIClient(self.login, self.password, base_url=self.base_url, http=http)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def _state(self, state: asg_domain.MessageState) -> SendResult:
        raw = state.state.value
        return SendResult(state.id, STATES.get(raw, MessageStatus.UNKNOWN), raw)

    def send(self, message: Outgoing) -> SendResult:
        if message.channel != "sms":
            raise GatewayError("the Android gateway sends SMS only", permanent=True)
        body = asg_domain.Message(
            phone_numbers=[message.to],
            text_message=asg_domain.TextMessage(text=message.body),
            id=message_id(message.key),
            with_delivery_report=True,
        )
        client = self._client()
        try:
            return self._state(client.send(body))
        except asg_errors.APIError as exc:
            if exc.status_code == 409:
                # Already accepted (we crashed before recording it): the same message.
                found = self.lookup(message, datetime.min.replace(tzinfo=UTC))
                if found is not None:
                    return found
            status = exc.status_code or 0
            permanent = 400 <= status < 500 and status not in (401, 403, 408, 409, 429)
            raise GatewayError(f"android gateway {status}: {exc}", permanent=permanent) from exc
        except requests.RequestException as exc:
            raise GatewayError(f"android gateway unreachable: {type(exc).__name__}") from exc

    def lookup(self, message: Outgoing, since: datetime) -> SendResult | None:
        try:
            return self._state(self._client().get_state(message_id(message.key)))
        except asg_errors.NotFoundError:
            return None
        except (asg_errors.APIError, requests.RequestException) as exc:
            raise GatewayError(f"android gateway lookup failed: {exc}") from exc

    def verify_webhook(self, request: WebhookRequest) -> bool:
        signature = request.headers.get("X-Signature", "")
        timestamp = request.headers.get("X-Timestamp", "")
        if not self.signing_key or not signature or not timestamp.isdigit():
            return False
        if abs(time.time() - int(timestamp)) > self.tolerance:
            return False  # a replayed old request
        expected = hmac.new(
            self.signing_key.encode(), request.body + timestamp.encode(), hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(expected, signature.lower())

    def parse_webhook(self, request: WebhookRequest) -> list[Inbound | StatusUpdate]:
        try:
            event = json.loads(request.body)
        except ValueError:
            return []
        if not isinstance(event, dict):
            return []
        kind = event.get("event")
        payload = event.get("payload") or {}
        if kind == "sms:received":
            return [
                Inbound(
                    provider=self.name,
                    # The event id: payload.messageId is derived from the text, not unique.
                    message_id=str(event.get("id") or ""),
                    sender=str(payload.get("phoneNumber") or payload.get("sender") or ""),
                    body=str(payload.get("message") or ""),
                    to=payload.get("recipient"),
                )
            ]
        if kind in EVENTS:
            return [
                StatusUpdate(
                    provider=self.name,
                    provider_message_id=str(payload.get("messageId") or ""),
                    status=EVENTS[kind],
                    provider_status=kind,
                    error=payload.get("reason"),
                )
            ]
        return []
