"""Errors as {"error": {"code", "message", "details"}} for everything under /api/.

``details`` is always there (``{}`` when there is nothing to add); ``message``
is in the request's language (api/messages.py), like every text in ``details``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from ..extensions import db
from ..queue.errors import DomainError
from .messages import http_message, translate_messages

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_transition",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


def error_response(
    status: int, code: str, message: Any, details: dict[str, Any] | None = None
) -> Response:
    """The API's error body with its status."""
    body: dict[str, Any] = {"code": code, "message": str(message), "details": details or {}}
    response = jsonify({"error": body})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="guichet"'
    return response


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def handle_domain_error(error: DomainError) -> Any:
    db.session.rollback()
    if wants_json():
        return error_response(error.status, error.code, error.message, error.details)
    return render_template(
        "error.html", status=error.status, message=str(error.message)
    ), error.status


def handle_http_exception(error: HTTPException) -> Any:
    status = error.code or 500
    if not wants_json():
        return (
            error.get_response()
            if status < 400
            else (render_template("error.html", status=status, message=error.description), status)
        )
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") or data.get("errors")
    if messages is not None and status in (400, 422):
        # webargs/marshmallow validation: malformed JSON, wrong types, unknown fields.
        return error_response(
            400, "invalid_request", http_message(400), translate_messages(_plain(messages))
        )
    # werkzeug's descriptions are English only: each status has its own translated message.
    details: dict[str, Any] = {}
    limit = getattr(error, "limit", None)
    if status == 429 and limit is not None:
        details["limit"] = str(getattr(limit, "limit", limit))
    response = error_response(
        status, HTTP_CODES.get(status, "error"), http_message(status), details
    )
    for name, value in error.get_headers():
        if name in ("Allow", "Retry-After"):
            response.headers[name] = value
    return response


def handle_unexpected(error: Exception) -> Any:
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=error)
    db.session.rollback()
    if wants_json():
        return error_response(500, "internal_error", http_message(500))
    return render_template("error.html", status=500, message=InternalServerError.description), 500


def _plain(messages: Any) -> dict[str, Any]:
    """Validation messages as JSON-able data ({"json": {"service": ["..."]}})."""
    if isinstance(messages, dict):
        return {str(k): _plain(v) if isinstance(v, dict) else v for k, v in messages.items()}
    return {"_": messages}


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
