"""No input gives a 500: ids, JSON bodies, content types, strings and opening hours.

Each case was found from outside (a black-box run and an API fuzzer); the
answers are the API's error JSON with a 4xx status.
"""

from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter

BEYOND_64_BITS = "99999999999999999999999999"
MAX_ID = 2**31 - 1  # an SQL integer on PostgreSQL


def error_of(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    assert {"code", "message", "details"} <= set(body["error"])
    return body["error"]


# --- integer ids -------------------------------------------------------------------


ID_BEYOND_WHAT_THE_DATABASE_HOLDS = [
    ("GET", f"tickets/{BEYOND_64_BITS}"),
    ("POST", "counters/99999999999999999999999/call-next"),
    ("POST", f"tickets/{BEYOND_64_BITS}/finish"),
    ("POST", f"tickets/{2**63}/transfer"),
    ("GET", f"counters/{2**64}"),
    ("GET", f"users/{BEYOND_64_BITS}"),
    ("PATCH", f"sites/thies/counters/{BEYOND_64_BITS}"),
    ("POST", f"sites/thies/devices/{BEYOND_64_BITS}/revoke"),
    ("GET", f"tickets/{2**63 - 1}"),
    ("GET", f"tickets/{2**31}"),
    ("GET", f"tickets/{MAX_ID}"),
    ("POST", f"counters/{MAX_ID}/call-next"),
    ("GET", "tickets/" + "9" * 5000),
    ("GET", "tickets/" + "0" * 5000 + "1"),
]


def test_ids_beyond_what_the_database_holds_are_unknown_not_a_server_error(any_app):
    from .conftest import Api, build_office

    api = Api(any_app, build_office(any_app))
    for method, path in ID_BEYOND_WHAT_THE_DATABASE_HOLDS:
        response = api.request(method, path, "admin", json={"service": "CNI"})
        assert error_of(response, 404)["code"] == "not_found", (method, path)


def test_every_integer_path_parameter_is_bounded_to_what_an_id_column_holds(app):
    """One converter bounds every <int:...> of the app, the routes added later included."""
    integer_arguments = [
        (rule.rule, name)
        for rule in app.url_map.iter_rules()
        for name, converter in rule._converters.items()
        if isinstance(converter, IntegerConverter)
    ]
    assert len(integer_arguments) > 10
    for rule in app.url_map.iter_rules():
        for converter in rule._converters.values():
            if isinstance(converter, IntegerConverter):
                assert converter.max == MAX_ID, rule.rule
                assert not converter.signed, rule.rule


def test_path_strings_with_control_characters_are_unknown(any_app):
    from .conftest import Api, build_office

    api = Api(any_app, build_office(any_app))
    for path in ("sites/th%00ies/board", "sites/thies/services/CN%00I", "track/AB%01CD"):
        assert error_of(api.get(path, "admin"), 404)["code"] == "not_found"


# --- JSON bodies ---------------------------------------------------------------------


def post_raw(api, path, text, as_="admin", content_type="application/json"):
    return api.post(path, as_, data=text.encode("utf-8"), content_type=content_type)


LONE_SURROGATES = [
    ("POST", "sites/thies/tickets", '{"service": "\\ud800"}'),
    ("POST", "sites/thies/tickets", '{"service": "CNI", "phone": "\\udfff"}'),
    ("POST", "sites/thies/tickets", '{"service": "CNI", "\\ud800": 1}'),
    ("POST", "sites/thies/counters", '{"name": "G9", "services": ["CNI", "\\ud800"]}'),
    ("POST", "sites/thies/services", '{"code": "X", "prefix": "X", "names": {"\\ud800": "x"}}'),
    ("PUT", "sites/thies/closures", '["\\ud800"]'),
    ("POST", "auth/token", '{"email": "\\ud800@x.sn", "password": "abcdefgh"}'),
    ("POST", "users", '{"email": "a@b.sn", "password": "\\ud83d", "role": "agent"}'),
]


def test_a_lone_surrogate_anywhere_in_a_body_is_bad_json(any_app):
    from .conftest import Api, build_office

    api = Api(any_app, build_office(any_app))
    for method, path, text in LONE_SURROGATES:
        response = api.request(method, path, "admin", data=text, content_type="application/json")
        assert error_of(response, 400)["code"] == "invalid_request", (path, text)


def test_a_surrogate_pair_is_a_character_not_an_error(api, office):
    response = post_raw(
        api,
        f"sites/{office.slug}/counters",
        '{"name": "Guichet \\ud83d\\ude00", "services": ["CNI"]}',
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["name"] == "Guichet \U0001f600"


@pytest.mark.parametrize("depth", [30_000, 100])
def test_deeply_nested_json_is_refused(api, office, depth):
    text = '{"service": ' + "[" * depth + "]" * depth + "}"
    error = error_of(post_raw(api, f"sites/{office.slug}/tickets", text), 400)
    assert error["code"] == "invalid_request"
    deep_closures = "[" * depth + "]" * depth
    response = api.put(
        f"sites/{office.slug}/closures",
        "admin",
        data=deep_closures,
        content_type="application/json",
    )
    assert error_of(response, 400)["code"] in ("invalid_request", "bad_request")


def test_a_number_of_thousands_of_digits_is_refused(api, office):
    text = '{"service": "CNI", "priority": ' + "9" * 5000 + "}"
    assert error_of(post_raw(api, f"sites/{office.slug}/tickets", text), 400)


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, "1", "on", None])
def test_booleans_are_strict(api, office, value):
    response = api.post(
        f"sites/{office.slug}/tickets", "kiosk", json={"service": "CNI", "priority": value}
    )
    error = error_of(response, 400)
    assert "priority" in error["details"]["json"]


def test_true_and_false_are_booleans(api, office):
    assert api.issue("CNI", priority=True)["priority"] is True
    assert api.issue("CNI", priority=False)["priority"] is False


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("text/plain", '{"service": "CNI"}'),
        ("application/x-www-form-urlencoded", "service=CNI"),
        ("multipart/form-data; boundary=x", '--x\r\nContent-Disposition: form-data; name="a"'),
        ("application/xml", "<service>CNI</service>"),
        (None, '{"service": "CNI"}'),
    ],
)
def test_a_body_that_is_not_json_is_415(api, office, content_type, data):
    response = api.post(
        f"sites/{office.slug}/tickets", "kiosk", data=data, content_type=content_type
    )
    assert error_of(response, 415)["code"] == "unsupported_media_type"
    closures = api.put(
        f"sites/{office.slug}/closures", "manager", data=data, content_type=content_type
    )
    assert error_of(closures, 415)["code"] == "unsupported_media_type"


def test_json_with_a_charset_or_a_json_suffix_is_json(api, office):
    for content_type in ("application/json; charset=utf-8", "application/vnd.guichet+json"):
        response = post_raw(
            api, f"sites/{office.slug}/tickets", '{"service": "CNI"}', "kiosk", content_type
        )
        assert response.status_code == 201, response.get_json()


def test_a_missing_body_is_400_where_a_body_is_required(api, office):
    response = api.post(f"sites/{office.slug}/tickets", "kiosk")
    error = error_of(response, 400)
    assert error["code"] == "invalid_request"
    empty = api.post(
        f"sites/{office.slug}/tickets", "kiosk", data="", content_type="application/json"
    )
    assert error_of(empty, 400)["code"] == "invalid_request"
    assert error_of(api.put(f"sites/{office.slug}/closures", "manager"), 400)


def test_pause_needs_no_body(api, office):
    api.open_counter("g2")
    response = api.post(f"counters/{office.counters['g2'].id}/pause", "agent")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["pause_reason"] is None


# --- strings people type ---------------------------------------------------------------


CONTROL_CHARACTERS = [
    ("POST", "sites/thies/counters", {"name": "Guichet\x009", "services": ["CNI"]}),
    ("POST", "sites/thies/counters", {"name": "Guichet 9", "services": ["CN\x00I"]}),
    ("POST", "sites", {"slug": "x", "name": "Mairie\x00", "timezone": "Africa/Dakar"}),
    ("POST", "sites", {"slug": "x", "name": "Mairie", "timezone": "Africa/Dakar\x00"}),
    ("PATCH", "sites/thies", {"name": "Thi\x07ès"}),
    ("POST", "sites/thies/services", {"code": "EC", "name": "État\tcivil", "prefix": "C"}),
    ("POST", "sites/thies/services", {"code": "EC", "names": {"fr\x00": "x"}, "prefix": "C"}),
    ("PATCH", "sites/thies/services/CNI", {"names": {"fr": "Carte\x1b"}}),
    ("POST", "sites/thies/devices", {"kind": "kiosk", "name": "Borne\x00"}),
    ("POST", "sites/thies/tickets", {"service": "CNI", "phone": "77\x00123"}),
    ("POST", "sites/thies/tickets", {"service": "CNI\x00"}),
    ("POST", "users", {"email": "a@b.sn", "password": "secret\x00pw", "role": "agent"}),
    (
        "POST",
        "users",
        {"email": "a@b.sn", "password": "secretpw", "role": "agent", "full_name": "Awa\x00"},
    ),
    ("PUT", "sites/thies/hours", {"monday": [["08:00", "12:\x000"]]}),
]


def test_control_characters_are_refused_in_typed_strings(any_app):
    from .conftest import Api, build_office

    api = Api(any_app, build_office(any_app))
    for method, path, body in CONTROL_CHARACTERS:
        response = api.request(method, path, "admin", json=body)
        assert error_of(response, 400)["code"] in ("invalid_request", "invalid_input"), body


def test_a_control_character_in_a_pause_reason_is_refused(api, office):
    api.open_counter("g2")
    response = api.post(
        f"counters/{office.counters['g2'].id}/pause", "agent", json={"reason": "pause\x00"}
    )
    assert error_of(response, 400)["details"]["json"]["reason"]


def test_integers_in_bodies_are_bounded_to_what_the_database_holds(api, office):
    response = api.post(
        f"sites/{office.slug}/counters",
        "manager",
        json={"name": "G9", "services": ["CNI"], "weights": {"CNI": 2**64}},
    )
    assert error_of(response, 400)["code"] == "invalid_request"
    response = api.patch(f"sites/{office.slug}/services/CNI", "manager", json={"position": 2**70})
    assert error_of(response, 400)["code"] == "invalid_request"


def test_unbounded_integer_fields_get_the_bounds_of_an_integer_column():
    """A schema written later without a Range still refuses ids the database cannot hold."""
    from marshmallow import fields

    from queue_app.api.inputs import harden_body_schema
    from queue_app.api.schemas import StrictSchema

    class LaterSchema(StrictSchema):
        ticket = fields.Integer(required=True)
        tickets = fields.List(fields.Integer())
        note = fields.String()
        urgent = fields.Boolean()
        minutes = fields.Float()

    schema = harden_body_schema(LaterSchema())
    assert schema.load(
        {"ticket": MAX_ID, "tickets": [-MAX_ID - 1], "note": "ok", "urgent": True, "minutes": 2}
    )
    for bad in (
        {"ticket": MAX_ID + 1},
        {"ticket": 2**63},
        {"ticket": -(2**31) - 1},
        {"ticket": 1, "tickets": [2**64]},
        {"ticket": 1, "note": "a\x00b"},
        {"ticket": 1, "urgent": "yes"},
        {"ticket": 1, "urgent": 1},
        {"ticket": "5"},
        {"ticket": 2.5},
        {"ticket": 2.589e-42},
        {"ticket": 1, "minutes": "5"},
        {"ticket": 1, "minutes": True},
    ):
        assert schema.validate(bad), bad


# --- opening hours ---------------------------------------------------------------------


def site_hours(api, slug):
    return api.get(f"sites/{slug}", "manager").get_json()["hours"]


def test_put_hours_without_a_body_is_400_and_keeps_the_hours(api, office):
    hours = {"monday": [["08:00", "17:00"]]}
    assert api.put(f"sites/{office.slug}/hours", "manager", json=hours).status_code == 200
    response = api.put(f"sites/{office.slug}/hours", "manager")
    assert error_of(response, 400)["code"] == "invalid_request"
    empty = api.put(
        f"sites/{office.slug}/hours", "manager", data="", content_type="application/json"
    )
    assert error_of(empty, 400)["code"] == "invalid_request"
    assert site_hours(api, office.slug) == hours


def test_a_new_site_has_no_hours_and_always_takes_tickets(api):
    created = api.post(
        "sites", "admin", json={"slug": "pn", "name": "Porto-Novo", "timezone": "Africa/Porto-Novo"}
    )
    assert created.get_json()["hours"] is None


def test_a_week_without_hours_is_closed_and_delete_opens_it_again(api, office):
    response = api.put(f"sites/{office.slug}/hours", "manager", json={})
    assert response.status_code == 200
    assert response.get_json()["hours"] == {}
    refused = api.post(f"sites/{office.slug}/tickets", "kiosk", json={"service": "CNI"})
    assert error_of(refused, 409)["code"] == "site_closed"

    every_day_empty = {day: [] for day in ("monday", "tuesday", "wednesday", "thursday")}
    response = api.put(f"sites/{office.slug}/hours", "manager", json=every_day_empty)
    assert response.get_json()["hours"] == {}
    assert (
        api.post(f"sites/{office.slug}/tickets", "kiosk", json={"service": "CNI"}).status_code
        == 409
    )

    # Staff may still let a late citizen in.
    assert (
        api.post(f"sites/{office.slug}/tickets", "agent", json={"service": "CNI"}).status_code
        == 201
    )

    cleared = api.request("DELETE", f"sites/{office.slug}/hours", "manager")
    assert cleared.status_code == 200
    assert cleared.get_json()["hours"] is None
    assert api.issue("CNI")["status"] == "waiting"


def test_only_managers_change_or_clear_hours(api, office):
    assert api.put(f"sites/{office.slug}/hours", "agent", json={}).status_code == 403
    assert api.request("DELETE", f"sites/{office.slug}/hours", "agent").status_code == 403
    assert api.request("DELETE", f"sites/{office.slug}/hours").status_code == 401
