"""The OpenAPI document tells the truth about errors; interactive docs at /api/v1/docs.

``ErrorDocsPlugin`` documents, for every operation as it is registered (those
of blueprints added later by other capabilities too), the errors the app's
machinery can answer whatever the view does:

- 400 when the operation reads a body, query or header parameters;
- 401 and 403 when it is secured (every operation but those with ``security=[]``);
- 404 when its path has parameters (unknown id, code or slug);
- 413 and 415 when it reads a body (too large, not JSON);
- 429 when Flask-Limiter limits it (or the whole app);
- 503 always (the database is unreachable).

Errors that only the view knows (409, 422, a 404 for a code in the body...) are
declared on the view with ``@blp.alt_response(status, description=...)``. Every
error response gets the one error schema the API answers.

It also keeps the schemas true (``schema_helper``): a nullable nested object is
that object or null (apispec writes "any object or null"), and a request schema
states its rules across fields with an ``OPENAPI_EXTRA`` class attribute (a dict
of JSON Schema keywords such as ``oneOf``/``anyOf`` added to its component), which
its ``@validates_schema`` enforces.
"""

from __future__ import annotations

import logging
from typing import Any

from apispec import BasePlugin
from flask import Blueprint, Flask, render_template
from werkzeug.routing import Rule

log = logging.getLogger(__name__)

ERROR_SCHEMA_NAME = "Error"
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again (when the server can tell).",
        "schema": {"type": "integer", "minimum": 0},
    }
}

# status -> (component name, description)
STANDARD_ERRORS: dict[int, tuple[str, str]] = {
    400: (
        "BadRequest",
        "Bad input: malformed JSON, wrong types, unknown fields or invalid values "
        "(code invalid_request, details.json names each field; or invalid_input).",
    ),
    401: ("Unauthorized", "No credentials, or an expired, revoked or unknown token."),
    403: ("Forbidden", "The user or device may not do this (another site, another role)."),
    404: ("NotFound", "Unknown id, code or slug in the path (ids too large to exist too)."),
    413: ("PayloadTooLarge", "The body is larger than the server accepts (MAX_CONTENT_LENGTH)."),
    415: ("UnsupportedMediaType", "The body is not JSON (send Content-Type: application/json)."),
    429: ("TooManyRequests", "Too many requests from this client: wait and try again."),
    503: (
        "Unavailable",
        "The database (or another service the server needs) is unreachable for a moment.",
    ),
}


def register_error_components(spec: Any, error_schema: Any) -> None:
    """The error schema and one response component per standard error."""
    if ERROR_SCHEMA_NAME not in spec.components.schemas:
        # flask-smorest registers Api.ERROR_SCHEMA (ours) itself, under this name.
        spec.components.schema(ERROR_SCHEMA_NAME, schema=error_schema)
    for status, (name, description) in STANDARD_ERRORS.items():
        response: dict[str, Any] = {
            "description": description,
            "content": {"application/json": {"schema": ERROR_SCHEMA_NAME}},
        }
        if status in (429, 503):
            response["headers"] = dict(RETRY_AFTER)
        spec.components.response(name, response)


class ErrorDocsPlugin(BasePlugin):
    """Adds the errors every operation can give (see the module's docstring)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.spec: Any = None

    def init_spec(self, spec: Any) -> None:
        super().init_spec(spec)
        self.spec = spec

    def schema_helper(
        self, name: str, definition: dict | None = None, **kwargs: Any
    ) -> dict | None:
        """Runs after the marshmallow plugin: ``definition`` is the component it built."""
        if definition is not None:
            _null_or_object(definition)
        schema = kwargs.get("schema")
        extra = getattr(schema, "OPENAPI_EXTRA", None) if schema is not None else None
        return dict(extra) if extra else None

    def operation_helper(
        self, path: str | None = None, operations: dict | None = None, **kwargs: Any
    ) -> None:
        rule: Rule | None = kwargs.get("rule")
        has_path_parameters = bool(rule is not None and rule.arguments)
        limited = rule is not None and self._rate_limited(rule)
        default_security = self.spec.options.get("security") or []
        for operation in (operations or {}).values():
            responses: dict[Any, Any] = operation.setdefault("responses", {})
            parameters = operation.get("parameters", [])
            reads_body = "requestBody" in operation
            reads_parameters = any(
                isinstance(p, dict) and p.get("in") in ("query", "header") for p in parameters
            )
            secured = bool(operation.get("security", default_security))
            wanted = {503}
            if reads_body or reads_parameters:
                wanted.add(400)
            if secured:
                wanted |= {401, 403}
            if has_path_parameters:
                wanted.add(404)
            if reads_body:
                wanted |= {413, 415}
            if limited:
                wanted.add(429)
            for status in sorted(wanted):
                existing = responses.get(status, responses.get(str(status)))
                if existing is None or existing == "BAD_REQUEST":
                    # flask-smorest's own 400 component carries its generic description.
                    responses.pop(status, None)
                    responses[str(status)] = STANDARD_ERRORS[status][0]
            for status, response in list(responses.items()):
                # An error declared without a schema (alt_response) answers the error JSON.
                is_error = str(status).isdigit() and int(status) >= 400
                if is_error and isinstance(response, dict):
                    response.setdefault(
                        "content", {"application/json": {"schema": ERROR_SCHEMA_NAME}}
                    )
                    if int(status) in (429, 503):
                        response.setdefault("headers", dict(RETRY_AFTER))

    def _rate_limited(self, rule: Rule) -> bool:
        """Whether Flask-Limiter limits this endpoint (its own limits, or the app's defaults)."""
        from ..extensions import limiter

        # The document describes the product: limits count even where they are
        # switched off (RATELIMIT_ENABLED=False, in tests).
        limiters = [limiter, *self.app.extensions.get("limiter", ())]
        blueprint = rule.endpoint.rpartition(".")[0] or None
        # Limits may be callables reading the settings: resolve them in an app context.
        with self.app.app_context():
            for one in limiters:
                manager = getattr(one, "limit_manager", None)
                if manager is None:
                    continue
                if manager.application_limits:
                    return True
                defaults, decorated = manager.resolve_limits(self.app, rule.endpoint, blueprint)
                if defaults or decorated:
                    return True
        return False


def _null_or_object(node: Any) -> None:
    """``anyOf: [{$ref}, {"type": "object", "nullable": true}]`` says "the object or null".

    apispec writes a nullable nested schema so, and its second branch lets any
    object through; it gets ``enum: [null]``, which leaves only null.
    """
    if isinstance(node, dict):
        branches = node.get("anyOf")
        if isinstance(branches, list) and len(branches) == 2:
            for index, branch in enumerate(branches):
                if branch == {"type": "object", "nullable": True}:
                    branches[index] = {"type": "object", "nullable": True, "enum": [None]}
        for value in node.values():
            _null_or_object(value)
    elif isinstance(node, list):
        for value in node:
            _null_or_object(value)


docs = Blueprint("api_docs_page", __name__)


@docs.get("/api/v1/docs")
def docs_page() -> Any:
    """Swagger UI over /api/v1/openapi.json, from assets served by this server."""
    return render_template("api/docs.html")
