"""/api/v1: the JSON API, documented at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, request
from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser

from ..extensions import db
from ..models import Device, User
from ..queue.accounts import resolve_token


class Parser(FlaskParser):
    # Malformed JSON, wrong types and unknown fields are bad input (400); 422 is
    # kept for state changes that are not allowed.
    DEFAULT_VALIDATION_STATUS = 400


class ApiBlueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = Parser()


class GuichetApi(Api):
    def _register_error_handlers(self) -> None:
        # api/errors.py answers errors for the whole app (JSON under /api/, pages elsewhere).
        pass


def principal() -> User | Device | None:
    """The user or device of the request's bearer token (cached per request)."""
    if "principal" not in g:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        found = None
        if scheme.lower() == "bearer" and token.strip():
            found = resolve_token(db.session, token.strip())
        g.principal = found
    return g.principal


def init_api(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "Guichet API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    spec_options: dict[str, Any] = {
        "info": {
            "description": "Queue and appointment system for public front offices. "
            'Errors are answered as {"error": {"code", "message", "details"}}.',
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A user token from POST /api/v1/auth/token, or a device token.",
                }
            }
        },
        "security": [{"bearer": []}],
    }
    app.config.setdefault("API_SPEC_OPTIONS", spec_options)
    api = GuichetApi(app)

    from ..extensions import csrf
    from ..queue.errors import Unauthorized
    from . import auth, counters, quality, sites, tickets, users

    modules = (auth, users, sites, counters, tickets, quality)
    for module in modules:
        # Bearer tokens, not cookies, authenticate the API: no CSRF token needed.
        csrf.exempt(module.blp)
        api.register_blueprint(module.blp, url_prefix="/api/v1")

    protected = {module.blp.name for module in modules}
    public_endpoints = {"api_auth.TokenView", "api_tickets.track"} | quality.PUBLIC_ENDPOINTS

    @app.before_request
    def _credentials_first() -> None:
        # Who asks is checked before anything is looked up: an anonymous caller
        # learns nothing about which sites, tickets or counters exist.
        guarded = request.blueprint in protected and request.endpoint not in public_endpoints
        if guarded and principal() is None:
            raise Unauthorized()
