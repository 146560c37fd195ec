"""The OpenAPI document tells the truth: the error format, the errors of every operation.

Also: every error body has the same shape, in the request's language, and the
interactive documentation is served from this server.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask

from .conftest import PASSWORD, shot

HTTP_METHODS = ("get", "put", "post", "patch", "delete")


def spec_of(app: Flask) -> dict:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method], item.get("parameters", [])


def resolve(spec: dict, node: dict) -> dict:
    while "$ref" in node:
        _, section, name = node["$ref"].lstrip("#/").split("/", 2)
        node = spec["components"][section][name]
    return node


# --- the error format ----------------------------------------------------------------


def test_the_error_schema_is_the_one_the_api_answers(app):
    spec = spec_of(app)
    schemas = spec["components"]["schemas"]
    error = schemas["Error"]
    assert error["required"] == ["error"]
    body = resolve(spec, error["properties"]["error"])
    assert sorted(body["required"]) == ["code", "details", "message"]
    assert body["properties"]["details"]["type"] == "object"
    assert "status" not in body["properties"]
    # flask-smorest's own error schema ({"code": int, "status", "errors"}) is gone.
    assert not any("errors" in s.get("properties", {}) for s in schemas.values())


def test_no_operation_hides_behind_a_default_response(app):
    for path, method, operation, _ in operations(spec_of(app)):
        assert "default" not in operation["responses"], (method, path)


def test_every_operation_documents_the_errors_it_can_give(app):
    spec = spec_of(app)
    count = 0
    for path, method, operation, path_parameters in operations(spec):
        count += 1
        codes = set(operation["responses"])
        where = (method.upper(), path)
        assert "503" in codes, where
        secured = operation.get("security", spec["security"]) != []
        if secured:
            assert {"401", "403"} <= codes, where
        if any(p["in"] == "path" for p in path_parameters + operation.get("parameters", [])):
            assert "404" in codes, where
        if "requestBody" in operation:
            assert {"400", "413", "415"} <= codes, where
        if any(p["in"] == "query" for p in operation.get("parameters", [])):
            assert "400" in codes, where
        for code, response in operation["responses"].items():
            if int(code) >= 400:
                response = resolve(spec, response)
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (where, code)
    assert count >= 30


def test_domain_errors_declared_by_views_are_documented(app):
    spec = spec_of(app)
    paths = spec["paths"]
    assert "409" in paths["/api/v1/sites/{slug}/tickets"]["post"]["responses"]
    assert "422" in paths["/api/v1/tickets/{ticket_id}/finish"]["post"]["responses"]
    assert "204" in paths["/api/v1/counters/{counter_id}/call-next"]["post"]["responses"]
    assert "404" in paths["/api/v1/users"]["post"]["responses"]  # an unknown site in the body
    token = paths["/api/v1/auth/token"]["post"]
    assert token["security"] == []
    assert {"400", "401", "429"} <= set(token["responses"])
    assert "Retry-After" in resolve(spec, token["responses"]["429"])["headers"]
    track = paths["/api/v1/track/{code}"]["get"]
    assert "401" not in track["responses"]


def test_integer_path_parameters_are_documented_with_their_bounds(app):
    item = spec_of(app)["paths"]["/api/v1/tickets/{ticket_id}"]
    parameter = next(p for p in item["parameters"] if p["name"] == "ticket_id")
    assert parameter["schema"]["maximum"] == 2**31 - 1
    assert parameter["schema"]["minimum"] == 0


def test_hours_can_be_cleared_and_are_nullable(app):
    spec = spec_of(app)
    item = spec["paths"]["/api/v1/sites/{slug}/hours"]
    assert {"put", "delete"} <= set(item)
    assert item["put"]["requestBody"]["required"] is True
    site = spec["components"]["schemas"]["Site"]
    assert site["properties"]["hours"]["nullable"] is True


def test_an_endpoint_added_later_is_documented_and_bounded_the_same_way(app, office):
    """A blueprint of another capability gets the same error documentation for free."""
    from flask.views import MethodView
    from marshmallow import fields

    from queue_app.api import ApiBlueprint
    from queue_app.api.schemas import StrictSchema, Text

    class WidgetSchema(StrictSchema):
        name = Text(required=True)
        count = fields.Integer()

    class WidgetQuerySchema(StrictSchema):
        page = fields.Integer(load_default=1)

    blp = ApiBlueprint("api_widgets_test", __name__)

    @blp.route("/sites/<slug>/widgets/<int:widget_id>")
    class WidgetView(MethodView):
        @blp.arguments(WidgetSchema)
        @blp.response(200, WidgetSchema)
        @blp.alt_response(409, description="The widget is busy")
        def put(self, body, slug, widget_id):
            return body

        @blp.arguments(WidgetQuerySchema, location="query")
        @blp.response(200, WidgetQuerySchema)
        def get(self, query, slug, widget_id):
            return query

    app.extensions["flask-smorest"]["apis"][""]["ext_obj"].register_blueprint(
        blp, url_prefix="/api/v1"
    )
    spec = spec_of(app)
    operation = spec["paths"]["/api/v1/sites/{slug}/widgets/{widget_id}"]["put"]
    assert {"400", "401", "403", "404", "409", "413", "415", "503"} <= set(operation["responses"])
    widget = spec["components"]["schemas"]["Widget"]
    assert widget["properties"]["count"]["maximum"] == 2**31 - 1
    listing = spec["paths"]["/api/v1/sites/{slug}/widgets/{widget_id}"]["get"]
    assert {"400", "401", "403", "404", "503"} <= set(listing["responses"])
    page = next(p for p in listing["parameters"] if p["name"] == "page")
    assert page["schema"]["maximum"] == 2**31 - 1

    client = app.test_client()
    token = client.post(
        "/api/v1/auth/token", json={"email": office.users["admin"].email, "password": PASSWORD}
    ).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/sites/{office.slug}/widgets/1"
    assert client.get(
        url, headers=headers, query_string={"page": "3", "lang": "en"}
    ).get_json() == {"page": 3}
    too_far = client.get(url, headers=headers, query_string={"page": str(2**40)})
    assert too_far.status_code == 400
    assert too_far.get_json()["error"]["details"]["query"]["page"]


# --- every error body has details, in the request's language ------------------------------


def test_401_bodies_carry_details_like_the_rest(client):
    response = client.get("/api/v1/sites")
    assert response.status_code == 401
    assert response.get_json()["error"]["details"] == {}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/nowhere"), ("DELETE", "/api/v1/sites"), ("GET", "/api/v1/tickets/x")],
)
def test_every_error_body_has_details(client, method, path):
    error = client.open(path, method=method).get_json()["error"]
    assert error["details"] == {}


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ({"headers": {"Accept-Language": "fr-SN,fr;q=0.9"}}, "fr"),
        ({"headers": {"Accept-Language": "en-GB,en;q=0.9"}}, "en"),
        ({"query_string": {"lang": "en"}, "headers": {"Accept-Language": "fr"}}, "en"),
        ({"query_string": {"lang": "fr"}, "headers": {"Accept-Language": "en"}}, "fr"),
        ({}, "fr"),
    ],
)
def test_error_messages_follow_the_request_language(api, office, language, expected):
    def ask(method, path, as_=None, **kwargs):
        return api.request(method, path, as_, **language, **kwargs).get_json()["error"]

    messages = {
        "unknown route": ask("GET", "no/such/route", "admin")["message"],
        "wrong method": ask("DELETE", f"sites/{office.slug}/tickets", "admin")["message"],
        "unknown ticket": ask("GET", "tickets/424242", "admin")["message"],
        "no credentials": ask("GET", "sites")["message"],
        "not allowed": ask("GET", "users", "kiosk")["message"],
        "not json": ask(
            "POST", f"sites/{office.slug}/tickets", "kiosk", data="x", content_type="text/plain"
        )["message"],
    }
    validation = ask(
        "POST",
        f"sites/{office.slug}/tickets",
        "kiosk",
        json={"service": 12, "colour": "blue", "priority": "yes"},
    )
    messages["validation"] = validation["message"]
    fields = validation["details"]["json"]
    messages.update({f"field {name}": text[0] for name, text in fields.items()})
    messages["bad json"] = ask(
        "POST", f"sites/{office.slug}/tickets", "kiosk", data="{", content_type="application/json"
    )["details"]["json"][0]
    messages["too long"] = ask(
        "POST", f"sites/{office.slug}/tickets", "kiosk", json={"service": "C" * 40}
    )["details"]["json"]["service"][0]

    english = {
        "unknown route": "Not found.",
        "wrong method": "This method is not allowed here.",
        "unknown ticket": "Not found.",
        "no credentials": "Missing, expired or unknown credentials.",
        "not allowed": "You are not allowed to do this.",
        "not json": "Send the body as JSON (Content-Type: application/json).",
        "validation": "The request is not valid.",
        "field service": "Not a valid string.",
        "field colour": "Unknown field.",
        "field priority": "Not a valid boolean.",
        "bad json": "Invalid JSON body.",
        "too long": "Length must be between 1 and 32.",
    }
    french = {
        "unknown route": "Introuvable.",
        "wrong method": "Cette méthode n'est pas permise ici.",
        "unknown ticket": "Introuvable.",
        "no credentials": "Identifiants absents, expirés ou inconnus.",
        "not allowed": "Vous n'êtes pas autorisé à faire cela.",
        "not json": "Envoyez le corps en JSON (Content-Type: application/json).",
        "validation": "La demande n'est pas valide.",
        "field service": "Chaîne de caractères invalide.",
        "field colour": "Champ inconnu.",
        "field priority": "Booléen invalide (true ou false).",
        "bad json": "Corps JSON invalide.",
        "too long": "La longueur doit être comprise entre 1 et 32.",
    }
    assert messages == (english if expected == "en" else french)


def test_every_marshmallow_message_has_a_translation():
    """A validation message of marshmallow or webargs left untranslated would show in English."""
    import inspect

    from marshmallow import fields, validate

    from queue_app.api.messages import VALIDATION_MESSAGES

    known = {str(message) for message in VALIDATION_MESSAGES}
    templates: set[str] = set()
    for _, cls in inspect.getmembers(fields, inspect.isclass):
        templates.update(getattr(cls, "default_error_messages", {}).values())
    for _, cls in inspect.getmembers(validate, inspect.isclass):
        if cls is validate.Range:
            continue
        for name, value in vars(cls).items():
            if name.startswith(("message", "default_message", "error")) and isinstance(value, str):
                templates.add(value)
    # Range builds its messages in two steps ("Must be {min_op} {{min}}.").
    range_ = validate.Range
    for low in (range_.message_gte, range_.message_gt):
        templates.add(range_.message_min.format(min_op=low))
        for high in (range_.message_lte, range_.message_lt):
            templates.add(range_.message_all.format(min_op=low, max_op=high))
    for high in (range_.message_lte, range_.message_lt):
        templates.add(range_.message_max.format(max_op=high))
    from marshmallow import Schema

    templates.update(Schema._default_error_messages.values())
    assert sorted(templates - known) == []


def test_translated_validation_messages_keep_their_values(app):
    from queue_app.api.messages import translate_messages

    with app.test_request_context("/api/v1/x", headers={"Accept-Language": "fr"}):
        assert translate_messages(
            {
                "json": {
                    "name": ["Length must be between 1 and 64."],
                    "kind": ["Must be one of: kiosk, display."],
                }
            }
        ) == {
            "json": {
                "name": ["La longueur doit être comprise entre 1 et 64."],
                "kind": ["Doit être l'une des valeurs\u00a0: kiosk, display."],
            }
        }
        assert translate_messages({"json": {"x": ["Something new from a plugin."]}}) == {
            "json": {"x": ["Something new from a plugin."]}
        }


# --- interactive documentation -----------------------------------------------------------


def test_docs_page_uses_local_assets_only(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    assert all(source.startswith("/") and not source.startswith("//") for source in sources)
    for source in sources:
        with client.get(source) as asset:
            assert asset.status_code == 200, source
    assert "<script>" not in html  # no inline code
    assert (
        "'unsafe-inline'"
        not in response.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    )


@pytest.mark.browser
def test_docs_page_shows_the_operations_in_chromium(live_server, make_page):
    page = make_page()
    page.goto(f"{live_server.url}/api/v1/docs")
    page.locator(".opblock-summary-path", has_text="/api/v1/sites/{slug}/tickets").first.wait_for()
    operation = page.locator(".opblock-post", has_text="/api/v1/sites/{slug}/tickets").first
    operation.locator(".opblock-summary").click()
    responses = operation.locator(".responses-table .response-col_status")
    responses.first.wait_for()
    codes = set(responses.all_inner_texts())
    assert {"201", "400", "401", "409", "415", "503"} <= {c.strip() for c in codes}
    shot(page, "api-docs")
