"""The OpenAPI document states the rules the server enforces, and the server keeps them.

Each rule found in code and missing from the document (a fuzzer sending a
request the document calls valid got a 400) is now in the document, and the
server answers as it says: accepted when the document allows it, refused when
it does not.
"""

from __future__ import annotations

import re

from .test_openapi import resolve, spec_of


def component(spec: dict, name: str) -> dict:
    return spec["components"]["schemas"][name]


def variant_of(schema: dict, field: str, value: str) -> dict:
    """The ``oneOf`` branch of ``schema`` whose ``field`` enum holds ``value``."""
    return next(
        branch for branch in schema["oneOf"] if value in branch["properties"][field]["enum"]
    )


# --- commitments: the threshold's limits depend on the kind --------------------------------


def test_the_document_gives_each_kind_of_commitment_its_limits(app):
    item = component(spec_of(app), "CommitmentItem")
    assert variant_of(item, "kind", "wait")["properties"]["threshold"]["maximum"] == 480
    satisfaction = variant_of(item, "kind", "satisfaction")["properties"]
    assert (satisfaction["threshold"]["minimum"], satisfaction["threshold"]["maximum"]) == (1, 5)
    assert satisfaction["service"]["maxLength"] == 0  # only waiting times name a service
    answer = variant_of(item, "kind", "complaint_answer")["properties"]["threshold"]
    assert answer["maximum"] == 365
    # A threshold that no kind takes is out of the field's own range too.
    assert item["properties"]["threshold"]["minimum"] == 1


def test_the_server_keeps_the_limits_of_each_kind_of_commitment(api, office):
    url = f"sites/{office.slug}/commitments"

    def put(*items):
        return api.put(url, "manager", json=list(items))

    assert put({"kind": "wait", "threshold": 200, "target_pct": 80}).status_code == 200
    too_high = put({"kind": "satisfaction", "threshold": 6, "target_pct": 80})
    assert too_high.status_code == 400
    assert "threshold" in too_high.get_json()["error"]["details"]["json"]["0"]
    assert put({"kind": "wait", "threshold": -15245, "target_pct": 80}).status_code == 400
    for_a_service = put(
        {"kind": "complaint_answer", "threshold": 15, "target_pct": 90, "service": "CNI"}
    )
    assert for_a_service.status_code == 400
    assert (
        put({"kind": "satisfaction", "threshold": 4, "target_pct": 85, "service": None}).status_code
        == 200
    )
    assert (
        put({"kind": "wait", "threshold": 30, "target_pct": 80, "service": "CNI"}).status_code
        == 200
    )


# --- devices: only kiosks print --------------------------------------------------------


def test_the_document_says_only_kiosks_take_printer_settings(app):
    spec = spec_of(app)
    device = component(spec, "DeviceCreate")
    others = variant_of(device, "kind", "printer")["properties"]
    for name in ("printer", "printer_options", "print_agent"):
        assert others[name]["enum"] == [None], name
    options = component(spec, "PrinterOptions")
    assert options["additionalProperties"] is False
    assert options["properties"]["paper_width_mm"]["enum"] == [58, 80]
    assert options["properties"]["qr_size"]["maximum"] == 16


def test_a_device_that_does_not_print_takes_null_printer_settings(api, office):
    url = f"sites/{office.slug}/devices"
    agent = api.post(
        url, "manager", json={"kind": "printer", "name": "Agent 2", "printer_options": None}
    )
    assert agent.status_code == 201, agent.get_json()
    assert "printer" not in agent.get_json()  # a kiosk's setting
    display = agent.get_json()["id"]
    assert api.patch(f"{url}/{display}", "manager", json={"print_agent": None}).status_code == 200
    refused = api.post(url, "manager", json={"kind": "tablet", "name": "T", "printer": "dummy:"})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["details"]["json"]["printer"] == [
        "Seules les bornes ont une imprimante."
    ]
    assert api.patch(f"{url}/{display}", "manager", json={"printer": "dummy:"}).status_code == 400


def test_printer_options_are_checked_as_documented(api, office):
    url = f"sites/{office.slug}/devices"

    def kiosk(options):
        return api.post(
            url, "manager", json={"kind": "kiosk", "name": "Borne", "printer_options": options}
        )

    assert kiosk({"x-schemathesis-additional": {}}).status_code == 400
    assert kiosk({"qr_size": True}).status_code == 400
    assert kiosk({"footer": "Ligne 1\nLigne 2\x1b"}).status_code == 400
    created = kiosk({"paper_width_mm": 58, "qr_size": 4, "footer": "Ligne 1\nLigne 2"})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["printer_options"]["footer"] == "Ligne 1\nLigne 2"


# --- nullable nested objects are that object or null ---------------------------------


def test_a_nullable_nested_object_is_that_object_or_null(app):
    spec = spec_of(app)
    loose = []

    def walk(node, where):
        if isinstance(node, dict):
            for branch in node.get("anyOf", []):
                bare = branch.get("type") == "object" and "properties" not in branch
                if bare and branch.get("enum") != [None]:
                    loose.append(where)
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    walk(spec["components"]["schemas"], "")
    assert loose == []
    printer = component(spec, "Failed")["properties"]["printer"]
    assert {"type": "object", "nullable": True, "enum": [None]} in printer["anyOf"]


def test_a_print_agents_report_takes_only_the_documented_fields(app, api, office):
    answer = api.post("print-jobs/1/failed", "printer", json={"error": "jam", "printer": {"N": 1}})
    assert answer.status_code == 400
    assert "N" in answer.get_json()["error"]["details"]["json"]["printer"]


# --- statistics: dates, JSON or CSV ------------------------------------------------------


def test_statistics_are_documented_as_json_or_csv_with_dates(app):
    spec = spec_of(app)
    for path in ("/api/v1/stats", "/api/v1/sites/{slug}/stats"):
        operation = spec["paths"][path]["get"]
        content = operation["responses"]["200"]["content"]
        assert set(content) == {"application/json", "text/csv"}, path
        assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/Stats"}
        dates = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}
        assert dates["from"]["format"] == dates["to"]["format"] == "date"


def test_statistics_refuse_what_is_not_a_date(api, office):
    url = f"sites/{office.slug}/stats"
    assert api.get(url, "manager", query_string={"from": "2026-11-01"}).status_code == 200
    for bad in ("2026-13-01", "20261101", "Ĩ Ý<7"):
        answer = api.get(url, "manager", query_string={"from": bad})
        assert answer.status_code == 400, bad
        assert "from" in answer.get_json()["error"]["details"]["query"]
    csv = api.get(url, "manager", query_string={"format": "csv"})
    assert csv.mimetype == "text/csv"


# --- phone numbers, texts, names ---------------------------------------------------------


def test_phone_numbers_have_a_documented_shape(app, api, office):
    spec = spec_of(app)
    booking = component(spec, "AppointmentCreate")["properties"]["phone"]
    pattern = re.compile(booking["pattern"])
    for written in ("+221 77 123 45 67", "77 123 45 67", "00221771234567", "(229) 97.12.34.56"):
        assert pattern.match(written), written
    assert not pattern.match("tel:77")
    ticket = component(spec, "TicketCreate")["properties"]["phone"]
    assert re.match(ticket["pattern"], "")  # "" means no phone
    assert "DEFAULT_PHONE_REGION" in ticket["description"]

    url = f"sites/{office.slug}/tickets"
    shape = api.post(url, "kiosk", json={"service": "CNI", "phone": "abc"})
    assert shape.status_code == 400
    assert "phone" in shape.get_json()["error"]["details"]["json"]
    unknown = api.post(url, "kiosk", json={"service": "CNI", "phone": "000000"})
    assert unknown.status_code == 400
    assert unknown.get_json()["error"]["details"]["field"] == "phone"
    assert api.post(url, "kiosk", json={"service": "CNI", "phone": ""}).status_code == 201


def test_a_complaint_text_counts_without_the_spaces_around_it(app, api, office):
    text = component(spec_of(app), "ComplaintCreate")["properties"]["text"]
    pattern = re.compile(text["pattern"])
    assert not pattern.match("          x")
    assert pattern.match("  Trop d'attente  ")
    url = f"sites/{office.slug}/complaints"
    assert api.post(url, json={"text": "          x"}).status_code == 400
    assert api.post(url, json={"text": "  Trop d'attente  "}).status_code == 201


def test_icons_users_and_service_names_are_stated(app):
    spec = spec_of(app)
    service = component(spec, "ServiceCreate")
    assert service["anyOf"] == [{"required": ["name"]}, {"required": ["names"]}]
    assert "id-card" in service["properties"]["icon"]["enum"]
    user = component(spec, "UserCreate")
    staff = variant_of(user, "role", "agent")
    assert staff["required"] == ["sites"]
    assert staff["properties"]["sites"]["minItems"] == 1


# --- SMS gateways: each has its names ----------------------------------------------------


def test_each_sms_gateway_takes_its_own_option_names(app, api, office):
    settings = component(spec_of(app), "GatewaySettings")
    android = variant_of(settings, "gateway", "android")["properties"]
    assert set(android["options"]["properties"]) == {"base_url", "login"}
    assert android["options"]["additionalProperties"] is False
    url = f"sites/{office.slug}/sms-gateway"
    wrong = api.put(url, "manager", json={"gateway": "twilio", "options": {"login": "x"}})
    assert wrong.status_code == 400
    # Back to the default: options are ignored, whatever their names.
    default = api.put(url, "manager", json={"gateway": None, "options": {"\x01": "x"}})
    assert default.status_code == 200


# --- voice clips: names in the path, recordings in the body ------------------------------


def test_voice_clip_names_are_documented(app):
    spec = spec_of(app)
    item = spec["paths"]["/api/v1/sites/{slug}/voice-clips/{language}/{key}"]
    parameters = {p["name"]: p["schema"] for p in item["parameters"]}
    assert re.match(parameters["key"]["pattern"], "number-42")
    assert not re.match(parameters["key"]["pattern"], "number-420")
    assert not re.match(parameters["language"]["pattern"], "FR")
    content = item["get"]["responses"]["200"]["content"]
    assert {"audio/ogg", "audio/mpeg", "audio/wav", "audio/webm"} == set(content)
    check_in = spec["paths"]["/api/v1/appointments/{reference}/check-in"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in check_in["parameters"]]
    assert "idempotency_key_mismatch" in resolve(spec, check_in["responses"]["422"])["description"]
