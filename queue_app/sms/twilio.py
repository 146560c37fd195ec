"""Twilio (official SDK): SMS, and WhatsApp over the same account and webhook.

Twilio sends SMS to Senegal, Burkina Faso and Benin but receives none there;
WhatsApp is two-way everywhere: replies go out as free text inside WhatsApp's
24-hour window, reminders outside it through the approved template
(``TWILIO_WHATSAPP_CONTENT_SID``, its variable ``{{1}}`` carrying our text).

The REST base URL is a setting (``TWILIO_API_URL``, the SDK's ``api.base_url``)
so tests run the real client against a local fake. Webhooks are checked with the
SDK's RequestValidator against PUBLIC_URL + path, the URL Twilio signed (the
server may sit behind a reverse proxy that rewrites host and scheme).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from ..models import MessageStatus
from ..queue.phones import mask_phone
from .gateway import (
    GatewayError,
    Inbound,
    Outgoing,
    SendResult,
    StatusUpdate,
    WebhookRequest,
)

log = logging.getLogger(__name__)

WHATSAPP = "whatsapp:"

# Twilio's message statuses, normalised.
STATUSES = {
    "accepted": MessageStatus.QUEUED,
    "scheduled": MessageStatus.QUEUED,
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.SENT,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "receiving": MessageStatus.UNKNOWN,
    "received": MessageStatus.UNKNOWN,
    "undelivered": MessageStatus.FAILED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}


def normalise_status(raw: str | None) -> MessageStatus:
    return STATUSES.get((raw or "").lower(), MessageStatus.UNKNOWN)


class TwilioGateway:
    name = "twilio"
    two_way = True  # WhatsApp everywhere; SMS only where Twilio has local numbers

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        sender: str | None,
        api_url: str,
        whatsapp_sender: str | None = None,
        whatsapp_content_sid: str | None = None,
        status_callback: str | None = None,
        timeout: float = 10,
    ) -> None:
        self.auth_token = auth_token
        self.sender = sender
        self.whatsapp_sender = whatsapp_sender
        self.whatsapp_content_sid = whatsapp_content_sid
        self.status_callback = status_callback
        self.client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
        self.client.api.base_url = api_url.rstrip("/")

    def close(self) -> None:
        session = getattr(self.client.http_client, "session", None)
        if session is not None:
            session.close()

    def _addresses(self, message: Outgoing) -> tuple[str, str]:
        if message.channel == "whatsapp":
            if not self.whatsapp_sender:
                raise GatewayError("no WhatsApp sender configured", permanent=True)
            sender = self.whatsapp_sender
            if not sender.startswith(WHATSAPP):
                sender = WHATSAPP + sender
            return WHATSAPP + message.to, sender
        if not self.sender:
            raise GatewayError("no Twilio sender configured", permanent=True)
        return message.to, self.sender

    def send(self, message: Outgoing) -> SendResult:
        to, sender = self._addresses(message)
        params: dict[str, object] = {"to": to, "from_": sender}
        if message.channel == "whatsapp" and message.use_template:
            if not self.whatsapp_content_sid:
                raise GatewayError("no WhatsApp template configured", permanent=True)
            params["content_sid"] = self.whatsapp_content_sid
            params["content_variables"] = json.dumps({"1": message.body}, ensure_ascii=False)
        else:
            params["body"] = message.body
        if self.status_callback:
            params["status_callback"] = self.status_callback
        try:
            created = self.client.messages.create(**params)
        except TwilioRestException as exc:
            # 4xx (bad number, unverified sender...) will fail again; 429 and 5xx may not.
            permanent = 400 <= exc.status < 500 and exc.status != 429
            raise GatewayError(
                f"twilio {exc.status} {exc.code}: {exc.msg}", permanent=permanent
            ) from exc
        except Exception as exc:  # network: connection refused, timeout
            raise GatewayError(f"twilio unreachable: {type(exc).__name__}") from exc
        log.debug("twilio accepted %s to %s", created.sid, mask_phone(message.to))
        return SendResult(str(created.sid), normalise_status(created.status), created.status)

    def lookup(self, message: Outgoing, since: datetime) -> SendResult | None:
        """Twilio takes no idempotency key: look for the same text to the same number."""
        to, _sender = self._addresses(message)
        try:
            recent = self.client.messages.list(to=to, limit=50)
        except Exception as exc:
            raise GatewayError(f"twilio lookup failed: {type(exc).__name__}") from exc
        window = since - timedelta(minutes=2)  # clocks differ a little
        for item in recent:
            created = item.date_created
            same_text = item.body == message.body or (
                message.use_template and message.body in (item.body or "")
            )
            if same_text and (created is None or created >= window):
                return SendResult(str(item.sid), normalise_status(item.status), item.status)
        return None

    def verify_webhook(self, request: WebhookRequest) -> bool:
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature:
            return False
        validator = RequestValidator(self.auth_token)
        return bool(validator.validate(request.url, dict(request.form), signature))

    def parse_webhook(self, request: WebhookRequest) -> list[Inbound | StatusUpdate]:
        form = request.form
        sid = form.get("MessageSid") or form.get("SmsSid") or ""
        status = form.get("MessageStatus") or form.get("SmsStatus")
        if status and status.lower() != "received":
            return [
                StatusUpdate(
                    provider=self.name,
                    provider_message_id=sid,
                    status=normalise_status(status),
                    provider_status=status,
                    error=form.get("ErrorCode"),
                )
            ]
        sender = form.get("From", "")
        channel = "whatsapp" if sender.startswith(WHATSAPP) else "sms"
        return [
            Inbound(
                provider=self.name,
                message_id=sid,
                sender=sender.removeprefix(WHATSAPP),
                to=form.get("To", "").removeprefix(WHATSAPP),
                body=form.get("Body", ""),
                channel=channel,
            )
        ]
