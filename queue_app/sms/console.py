"""Console gateway (development and demo): nothing leaves the machine.

Each message is logged with a masked number and appended to
``instance/sms-console.jsonl`` (and kept in the outbox table), so a demo user
can read what would have been sent.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime
from pathlib import Path

from ..models import MessageStatus, utcnow
from ..queue.phones import mask_phone
from .gateway import Inbound, Outgoing, SendResult, StatusUpdate, WebhookRequest

log = logging.getLogger(__name__)
_lock = threading.Lock()


class ConsoleGateway:
    name = "console"
    two_way = True  # inbound messages are simulated (queue-app sms-simulate)

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, message: Outgoing) -> SendResult:
        existing = self.lookup(message, utcnow())
        if existing is not None:
            return existing
        provider_id = f"console-{message.key}"
        record = {
            "id": provider_id,
            "key": message.key,
            "to": mask_phone(message.to),
            "channel": message.channel,
            "body": message.body,
            "at": utcnow().isoformat(),
        }
        with _lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        log.info("SMS (console) to %s: %s", mask_phone(message.to), message.body)
        return SendResult(provider_id, MessageStatus.DELIVERED, "console")

    def lookup(self, message: Outgoing, since: datetime) -> SendResult | None:
        for record in self.sent():
            if record.get("key") == message.key:
                return SendResult(str(record["id"]), MessageStatus.DELIVERED, "console")
        return None

    def sent(self) -> list[dict]:
        """Every message written so far (newest last)."""
        if not self.path.exists():
            return []
        with _lock:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def close(self) -> None:
        pass

    def verify_webhook(self, request: WebhookRequest) -> bool:
        return False  # no HTTP webhook: inbound messages come from the CLI

    def parse_webhook(self, request: WebhookRequest) -> list[Inbound | StatusUpdate]:
        return []
