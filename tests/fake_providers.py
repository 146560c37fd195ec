"""Local fakes of the SMS providers' HTTP APIs, for the real clients to talk to.

One threaded HTTP server on 127.0.0.1 speaks:

* Twilio's REST API: POST/GET /2010-04-01/Accounts/<sid>/Messages.json (Basic auth);
* SMS Gateway for Android: POST /3rdparty/v1/messages (409 on a message id seen
  before), GET /3rdparty/v1/messages/<id>;
* Orange: POST /oauth/v3/token (client credentials), POST
  /smsmessaging/v1/outbound/<sender>/requests (a repeated clientCorrelator is
  not sent twice).

Everything it accepts is kept in ``sent`` (one entry per SMS that would reach
a phone), so tests count sends. ``fail_next`` makes the next requests answer
503; ``calls`` counts requests per API.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from queue_app.models import utcnow

TWILIO_SID = "AC" + "f" * 32
TWILIO_TOKEN = "twilio-auth-token-for-tests"
ANDROID_LOGIN, ANDROID_PASSWORD = "gateway", "android-password"
ORANGE_ID, ORANGE_SECRET = "orange-client", "orange-secret"


@dataclass
class FakeState:
    sent: list[dict[str, Any]] = field(default_factory=list)
    calls: Counter = field(default_factory=Counter)
    fail_next: int = 0
    token_expires_in: int = 3600
    tokens_issued: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: Any = field(default_factory=lambda: itertools.count(1))

    def by(self, provider: str) -> list[dict[str, Any]]:
        return [s for s in self.sent if s["provider"] == provider]


class Handler(BaseHTTPRequestHandler):
    state: FakeState

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _reply(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _basic(self) -> tuple[str, str]:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return "", ""
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user, password

    def _failing(self) -> bool:
        with self.state.lock:
            if self.state.fail_next > 0:
                self.state.fail_next -= 1
                return True
        return False

    def do_POST(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        body = self._body()
        if path.startswith("/2010-04-01/Accounts/"):
            return self._twilio_create(body)
        if path == "/3rdparty/v1/messages":
            return self._android_send(body)
        if path == "/oauth/v3/token":
            return self._orange_token(body)
        if path.startswith("/smsmessaging/v1/outbound/"):
            return self._orange_send(path, body)
        self._reply(404, {"error": "unknown"})

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        if parts.path.startswith("/2010-04-01/Accounts/"):
            return self._twilio_list(parse_qs(parts.query))
        if parts.path.startswith("/3rdparty/v1/messages/"):
            return self._android_state(parts.path.rsplit("/", 1)[-1])
        self._reply(404, {"error": "unknown"})

    # --- Twilio -----------------------------------------------------------------
    def _twilio_message(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "sid": item["id"],
            "account_sid": TWILIO_SID,
            "to": item["to"],
            "from": item["from"],
            "body": item["body"],
            "status": "queued",
            "date_created": format_datetime(item["at"]),
            "date_updated": format_datetime(item["at"]),
            "date_sent": None,
            "direction": "outbound-api",
            "num_segments": "1",
            "uri": f"/2010-04-01/Accounts/{TWILIO_SID}/Messages/{item['id']}.json",
        }

    def _twilio_create(self, body: bytes) -> None:
        self.state.calls["twilio"] += 1
        if self._basic() != (TWILIO_SID, TWILIO_TOKEN):
            return self._reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
        if self._failing():
            return self._reply(503, {"code": 20500, "message": "Unavailable", "status": 503})
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        to = form.get("To", "")
        if not to.removeprefix("whatsapp:").startswith("+"):
            return self._reply(
                400, {"code": 21211, "message": "The 'To' number is not valid", "status": 400}
            )
        text = form.get("Body")
        if text is None and form.get("ContentSid"):
            text = json.loads(form.get("ContentVariables") or "{}").get("1", "")
        with self.state.lock:
            item = {
                "provider": "twilio",
                "id": f"SM{next(self.state.ids):032x}",
                "to": to,
                "from": form.get("From"),
                "body": text,
                "content_sid": form.get("ContentSid"),
                "status_callback": form.get("StatusCallback"),
                "at": utcnow(),
            }
            self.state.sent.append(item)
        self._reply(201, self._twilio_message(item))

    def _twilio_list(self, query: dict[str, list[str]]) -> None:
        self.state.calls["twilio_list"] += 1
        to = (query.get("To") or [None])[0]
        items = [s for s in reversed(self.state.by("twilio")) if to is None or s["to"] == to]
        self._reply(
            200,
            {
                "messages": [self._twilio_message(i) for i in items],
                "next_page_uri": None,
                "page": 0,
                "page_size": 50,
                "uri": f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json",
            },
        )

    # --- SMS Gateway for Android -----------------------------------------------------
    def _android_state(self, message_id: str) -> None:
        self.state.calls["android_get"] += 1
        item = next((s for s in self.state.by("android") if s["id"] == message_id), None)
        if item is None:
            return self._reply(404, {"message": "message not found"})
        self._reply(200, self._android_json(item))

    def _android_json(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": item["id"],
            "state": "Pending",
            "isHashed": False,
            "isEncrypted": False,
            "recipients": [{"phoneNumber": item["to"], "state": "Pending"}],
        }

    def _android_send(self, body: bytes) -> None:
        self.state.calls["android"] += 1
        if self._basic() != (ANDROID_LOGIN, ANDROID_PASSWORD):
            return self._reply(401, {"message": "unauthorized"})
        if self._failing():
            return self._reply(503, {"message": "device offline"})
        data = json.loads(body)
        message_id = data.get("id") or f"gen{next(self.state.ids)}"
        with self.state.lock:
            if any(s["id"] == message_id for s in self.state.by("android")):
                return self._reply(409, {"message": "message with this id already exists"})
            item = {
                "provider": "android",
                "id": message_id,
                "to": data["phoneNumbers"][0],
                "body": (data.get("textMessage") or {}).get("text") or data.get("message"),
                "at": utcnow(),
            }
            self.state.sent.append(item)
        self._reply(202, self._android_json(item))

    # --- Orange ---------------------------------------------------------------------
    def _orange_token(self, body: bytes) -> None:
        self.state.calls["orange_token"] += 1
        form = parse_qs(body.decode())
        if self._basic() != (ORANGE_ID, ORANGE_SECRET) or form.get("grant_type") != [
            "client_credentials"
        ]:
            return self._reply(401, {"error": "invalid_client"})
        with self.state.lock:
            self.state.tokens_issued += 1
            token = f"token-{self.state.tokens_issued}"
        self._reply(
            200,
            {"token_type": "Bearer", "access_token": token,
             "expires_in": str(self.state.token_expires_in)},
        )  # fmt: skip

    def _orange_send(self, path: str, body: bytes) -> None:
        self.state.calls["orange"] += 1
        expected = f"Bearer token-{self.state.tokens_issued}"
        if self.headers.get("Authorization") != expected:
            return self._reply(401, {"code": 42, "message": "Expired credentials"})
        if self._failing():
            return self._reply(503, {"code": 1, "message": "Service unavailable"})
        request = json.loads(body)["outboundSMSMessageRequest"]
        sender = unquote(path.split("/")[4])
        with self.state.lock:
            previous = next(
                (s for s in self.state.by("orange")
                 if s["correlator"] == request.get("clientCorrelator")),
                None,
            )  # fmt: skip
            if previous is None:
                previous = {
                    "provider": "orange",
                    "id": f"req{next(self.state.ids)}",
                    "to": request["address"],
                    "from": sender,
                    "body": request["outboundSMSTextMessage"]["message"],
                    "correlator": request.get("clientCorrelator"),
                    "callback_data": (request.get("receiptRequest") or {}).get("callbackData"),
                    "at": utcnow(),
                }
                self.state.sent.append(previous)
        request["resourceURL"] = (
            f"http://127.0.0.1/smsmessaging/v1/outbound/{path.split('/')[4]}/requests/"
            f"{previous['id']}"
        )
        self._reply(201, {"outboundSMSMessageRequest": request})


class FakeProviders:
    """The fake server, started on a free port; ``url`` is its origin."""

    def __init__(self) -> None:
        self.state = FakeState()
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeProviders:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
