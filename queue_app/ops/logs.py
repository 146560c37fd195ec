"""Log lines: readable text, or one JSON object per line (LOG_FORMAT = "json").

Every line, in either format, passes two filters on its way out:

* :class:`ContextFilter` adds the request id (the client's ``X-Request-ID`` when
  it is a sane one, else a new one, sent back in the response), the site slug
  of the URL and the operation (the view's endpoint, or ``job:<name>`` in a
  scheduled job);
* :class:`RedactFilter` masks what must never be written: phone numbers (any
  run of 8 digits or more, spaces and dots allowed, keeps its first 4 and last
  2 characters), device and user tokens (``gd_…``, ``gu_…``), bearer
  credentials, and ``token=``/``password=`` values. It rewrites the message and
  the traceback, so a SQL error's parameters are masked too.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# What a thread outside a request is doing (a scheduled job's name).
current_operation: ContextVar[str | None] = ContextVar("queue_app_operation", default=None)

_TOKEN = re.compile(r"\bg[a-z]_[A-Za-z0-9_-]{8,}")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_SECRET_PARAM = re.compile(r"(?i)\b(token|password|secret|auth_token|signature)=([^&\s\"']+)")
_PHONE = re.compile(r"(?<![\w*])\+?\d(?:[ .]?\d){7,14}(?![\w*])")


def redact(text: str) -> str:
    """``text`` without phone numbers, tokens and secrets (see the module doc)."""
    if not text:
        return text
    text = _BEARER.sub(lambda m: f"{m[1]} [redacted]", text)
    text = _TOKEN.sub(lambda m: m[0][:3] + "[redacted]", text)
    text = _SECRET_PARAM.sub(lambda m: f"{m[1]}=[redacted]", text)
    return _PHONE.sub(_mask_phone, text)


def _mask_phone(match: re.Match[str]) -> str:
    value = match[0]
    keep = 4 if value.startswith("+") else 3
    return value[:keep] + "*" * max(len(value) - keep - 2, 3) + value[-2:]


class RedactFilter(logging.Filter):
    """Rewrites a record's message and traceback without personal data or credentials."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_guichet_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what can be kept
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            # Formatters print exc_text when set: the masked one.
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record._guichet_redacted = True
        return True


class ContextFilter(logging.Filter):
    """Adds ``request_id``, ``site`` and ``operation`` to every record (None when unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = site = operation = None
        if has_request_context():
            request_id = g.get("request_id")
            args = request.view_args or {}
            site = args.get("slug") or args.get("site")
            operation = request.endpoint
        context = {
            "request_id": request_id,
            "site": site if isinstance(site, str) else None,
            "operation": operation or current_operation.get(),
        }
        record.__dict__.update(context)
        shown = " ".join(str(v) for v in context.values() if v)
        record.context_text = f" [{shown}]" if shown else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context, process, thread."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "site": getattr(record, "site", None),
            "operation": getattr(record, "operation", None),
            "process": record.process,
            "thread": record.threadName,
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context_text)s: %(message)s"


def make_handler(stream: Any = None, log_format: str = "text") -> logging.Handler:
    """A stream handler with Guichet's filters and the chosen format."""
    handler = logging.StreamHandler(stream)
    dress(handler, log_format)
    return handler


def dress(handler: logging.Handler, log_format: str | None = None) -> None:
    """Give a handler the context and redaction filters (once), and the format if named."""
    if not any(isinstance(f, ContextFilter) for f in handler.filters):
        handler.addFilter(ContextFilter())
        handler.addFilter(RedactFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    elif log_format == "text":
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))


def configure(app: Flask) -> None:
    """Root logging for this process: our handler when none is set, filters on every handler."""
    log_format = str(app.config.get("LOG_FORMAT") or "text").lower()
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(make_handler(None, log_format))
    else:
        for handler in root.handlers:
            # Someone else's handler (pytest's, gunicorn's): masked and in context
            # too, its format left alone unless JSON was asked for.
            dress(handler, "json" if log_format == "json" and _ours(handler) else None)


def _ours(handler: logging.Handler) -> bool:
    return type(handler) is logging.StreamHandler


def install_request_ids(app: Flask) -> None:
    """Each request gets an id (the client's X-Request-ID when sane), echoed in the answer."""

    @app.before_request
    def _request_id() -> None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _SANE_ID.match(given) else uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(response: Any) -> Any:
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response
