"""/api/v1: the JSON API, documented at /api/v1/openapi.json, browsable at /api/v1/docs."""

from __future__ import annotations

from functools import wraps
from typing import Any, cast

from flask import Flask, Response, current_app, g, request
from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint
from flask_smorest.utils import resolve_schema_instance
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import UnsupportedMediaType

from ..extensions import db
from ..models import Device, User
from ..ops.devices import seen
from ..queue.accounts import resolve_token_cached
from .inputs import (
    StrictJSONProvider,
    TextConverter,
    harden_body_schema,
    harden_parameters_schema,
    loads_strict,
    require_body,
    text_converter_schema,
)
from .openapi import ErrorDocsPlugin, register_error_components
from .schemas import ErrorSchema

# Query parameters every page and endpoint understands (i18n.select_locale).
GLOBAL_QUERY_PARAMETERS = ("lang",)


class Parser(FlaskParser):
    # Malformed JSON, wrong types and unknown fields are bad input (400); 422 is
    # kept for state changes that are not allowed.
    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req: Any) -> Any:
        data = req.get_data(cache=True)
        if not core.is_json(req.mimetype):
            if data:
                raise UnsupportedMediaType()
            return core.missing
        if not data:
            return core.missing
        # Strict: no lone surrogate, bounded nesting (a JSONDecodeError is a 400).
        return loads_strict(data)

    def load_querystring(self, req: Any, schema: Any) -> Any:
        args = MultiDict(req.args)
        for name in GLOBAL_QUERY_PARAMETERS:
            args.pop(name, None)
        return self._makeproxy(args, schema)


class ApiBlueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = Parser()

    def arguments(self, schema: Any, *, location: str = "json", required: bool = True, **kwargs):
        """flask-smorest's ``arguments``, with bounded JSON bodies (api/inputs.py).

        A JSON body's integers, booleans and strings are bounded, and a request
        without the body is a 400 when ``required`` (the default); query and
        header parameters get the same bounds on integers and strings.
        """
        if location != "json":
            instance = resolve_schema_instance(schema)
            if location in ("query", "querystring", "headers"):
                instance = harden_parameters_schema(instance)
            return super().arguments(instance, location=location, required=required, **kwargs)
        instance = harden_body_schema(resolve_schema_instance(schema))
        parse = super().arguments(instance, location=location, required=required, **kwargs)
        if not required:
            return parse

        def decorator(func: Any) -> Any:
            parsed = parse(func)

            @wraps(parsed)
            def needs_body(*args: Any, **view_kwargs: Any) -> Any:
                require_body()
                return parsed(*args, **view_kwargs)

            return needs_body

        return decorator


class GuichetApi(Api):
    # The one error format of the API (api/errors.py), documented as such; no
    # catch-all "default" response: each operation lists the errors it gives.
    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

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
            found = resolve_token_cached(db.session, token.strip())
            if isinstance(found, Device):
                seen(found.id)
        g.principal = found
    return g.principal


def json_answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """An answer written by its one serializer, as the view's schema documents it.

    flask-smorest hands a Response through untouched: the views of the busiest
    operations (a ticket's issue, a call) return their serializer's dict this
    way instead of having the schema dump it again. The schema still documents
    the answer, and the tests check the answers against the OpenAPI document.
    """
    # The provider builds the app's response_class (typed as werkzeug's base class).
    response = cast(Response, current_app.json.response(body))
    response.status_code = status
    if headers:
        response.headers.update(headers)
    return response


def init_api(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "Guichet API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    spec_options: dict[str, Any] = {
        "info": {
            "description": "Queue and appointment system for public front offices.\n\n"
            'Every error is answered as `{"error": {"code", "message", "details"}}`: '
            "`code` is stable, `message` is for people, `details` is always present "
            "(`{}` when empty). Messages are in French by default, in English with "
            "`Accept-Language: en` or `?lang=en`. Request bodies are JSON "
            "(`Content-Type: application/json`, else 415).",
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
    # request.get_json() parses as strictly as the API's argument parser.
    app.json = StrictJSONProvider(app)
    api = GuichetApi(app, spec_kwargs={"extra_plugins": [ErrorDocsPlugin(app)]})
    api.register_converter(TextConverter, text_converter_schema)
    register_error_components(api.spec, ErrorSchema)

    from ..extensions import csrf
    from ..queue.errors import Unauthorized
    from . import (
        appointments,
        auth,
        counters,
        ops,
        print_jobs,
        quality,
        screens,
        sites,
        tickets,
        users,
    )
    from .openapi import docs

    modules = (
        auth,
        users,
        sites,
        counters,
        tickets,
        appointments,
        print_jobs,
        screens,
        quality,
        ops,
    )
    for module in modules:
        # Bearer tokens, not cookies, authenticate the API: no CSRF token needed.
        csrf.exempt(module.blp)
        api.register_blueprint(module.blp, url_prefix="/api/v1")

    app.register_blueprint(docs)

    protected = {module.blp.name for module in modules}
    public_endpoints = {
        "api_auth.TokenView",
        "api_tickets.track",
        *appointments.PUBLIC,
        *quality.PUBLIC_ENDPOINTS,
    }

    @app.before_request
    def _credentials_first() -> None:
        # Who asks is checked before anything is looked up: an anonymous caller
        # learns nothing about which sites, tickets or counters exist.
        guarded = request.blueprint in protected and request.endpoint not in public_endpoints
        if guarded and principal() is None:
            raise Unauthorized()
