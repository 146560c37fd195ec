"""Orange SMS API (Senegal, Burkina Faso…): OAuth2 client credentials, OneAPI messaging.

The access token is cached until shortly before it expires (one token per
account and process) and fetched again on a 401. Each send carries our key as
the OneAPI ``clientCorrelator`` (the operator drops a repeated request with the
same correlator) and as ``callbackData`` (delivery reports name it). Inbound
SMS and delivery reports arrive at /sms/orange/<secret>, the URL registered
with Orange, where the secret is the only credential.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

from ..models import MessageStatus
from .gateway import (
    GatewayError,
    Inbound,
    Outgoing,
    SendResult,
    StatusUpdate,
    WebhookRequest,
)

DELIVERY = {
    "DeliveredToTerminal": MessageStatus.DELIVERED,
    "DeliveredToNetwork": MessageStatus.SENT,
    "MessageWaiting": MessageStatus.SENT,
    "DeliveryImpossible": MessageStatus.FAILED,
    "DeliveryUncertain": MessageStatus.UNKNOWN,
    "DeliveryNotificationNotSupported": MessageStatus.UNKNOWN,
}

# (token URL, client id) -> (access token, monotonic expiry)
_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()
TOKEN_MARGIN_SECONDS = 60


def correlator(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:36]


def tel(number: str) -> str:
    return number if number.startswith("tel:") else "tel:" + number


class OrangeGateway:
    name = "orange"
    two_way = True

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        sender: str,
        sender_name: str | None = None,
        webhook_secret: str | None = None,
        timeout: float = 10,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.sender = sender if sender.startswith("+") else "+" + sender.removeprefix("tel:")
        self.sender_name = sender_name
        self.webhook_secret = webhook_secret
        self.timeout = timeout
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    # --- OAuth2 -------------------------------------------------------------

    def _token_key(self) -> tuple[str, str]:
        return (self.base_url, self.client_id)

    def token(self, *, refresh: bool = False) -> str:
        """The cached access token, fetched (client credentials) when missing or expiring."""
        key = self._token_key()
        with _tokens_lock:
            cached = _tokens.get(key)
            if cached and not refresh and cached[1] > time.monotonic():
                return cached[0]
            try:
                response = self.session.post(
                    f"{self.base_url}/oauth/v3/token",
                    data={"grant_type": "client_credentials"},
                    auth=(self.client_id, self.client_secret),
                    headers={"Accept": "application/json"},
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                raise GatewayError(f"orange token unreachable: {type(exc).__name__}") from exc
            if response.status_code != 200:
                raise GatewayError(
                    f"orange token refused: {response.status_code}",
                    permanent=response.status_code in (400, 401, 403),
                )
            data = response.json()
            lifetime = float(data.get("expires_in") or 3600)
            token = str(data["access_token"])
            # Renewed a little before it expires (a send must not carry a dying token).
            margin = min(TOKEN_MARGIN_SECONDS, lifetime / 2)
            _tokens[key] = (token, time.monotonic() + lifetime - margin)
            return token

    def _post(self, url: str, payload: dict[str, Any]) -> requests.Response:
        for attempt in range(2):
            try:
                response = self.session.post(
                    url,
                    json=payload,
                    headers={"Authorization": f"Bearer {self.token(refresh=attempt > 0)}"},
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                raise GatewayError(f"orange unreachable: {type(exc).__name__}") from exc
            if response.status_code != 401:
                return response
        return response

    # --- sending --------------------------------------------------------------

    def send(self, message: Outgoing) -> SendResult:
        if message.channel != "sms":
            raise GatewayError("Orange sends SMS only", permanent=True)
        request: dict[str, Any] = {
            "address": tel(message.to),
            "senderAddress": tel(self.sender),
            "outboundSMSTextMessage": {"message": message.body},
            "clientCorrelator": correlator(message.key),
            "receiptRequest": {"callbackData": message.key},
        }
        if self.sender_name:
            request["senderName"] = self.sender_name
        url = (
            f"{self.base_url}/smsmessaging/v1/outbound/{quote(tel(self.sender), safe='')}/requests"
        )
        response = self._post(url, {"outboundSMSMessageRequest": request})
        if response.status_code not in (200, 201):
            status = response.status_code
            permanent = 400 <= status < 500 and status not in (401, 408, 429)
            raise GatewayError(f"orange {status}: {response.text[:200]}", permanent=permanent)
        data = response.json().get("outboundSMSMessageRequest", {})
        resource = str(data.get("resourceURL") or "")
        provider_id = resource.rstrip("/").rsplit("/", 1)[-1] or correlator(message.key)
        return SendResult(provider_id, MessageStatus.SENT, "accepted")

    def lookup(self, message: Outgoing, since: datetime) -> SendResult | None:
        # The API lists no request by correlator; a resend carries the same
        # clientCorrelator, which the operator deduplicates.
        return None

    # --- webhooks -------------------------------------------------------------

    def verify_webhook(self, request: WebhookRequest) -> bool:
        """The last segment of the URL is the secret registered with Orange."""
        supplied = request.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        expected = self.webhook_secret or ""
        return bool(expected) and hmac.compare_digest(supplied.encode(), expected.encode())

    def parse_webhook(self, request: WebhookRequest) -> list[Inbound | StatusUpdate]:
        try:
            data = json.loads(request.body)
        except ValueError:
            return []
        if not isinstance(data, dict):
            return []
        inbound = (data.get("inboundSMSMessageNotification") or {}).get("inboundSMSMessage")
        if isinstance(inbound, dict):
            return [
                Inbound(
                    provider=self.name,
                    message_id=str(inbound.get("messageId") or ""),
                    sender=str(inbound.get("senderAddress") or "").removeprefix("tel:"),
                    to=str(inbound.get("destinationAddress") or "").removeprefix("tel:"),
                    body=str(inbound.get("message") or ""),
                )
            ]
        report = data.get("deliveryInfoNotification")
        if isinstance(report, dict):
            info = report.get("deliveryInfo") or {}
            raw = str(info.get("deliveryStatus") or "")
            return [
                StatusUpdate(
                    provider=self.name,
                    key=str(report.get("callbackData") or "") or None,
                    status=DELIVERY.get(raw, MessageStatus.UNKNOWN),
                    provider_status=raw,
                )
            ]
        return []
