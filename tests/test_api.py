"""The /api/v1 contract of docs/api.md, exercised through the Flask test client."""

from __future__ import annotations

import pytest

# --- configuration by an admin ---------------------------------------------------


def test_admin_sets_up_a_site_from_scratch(api):
    site = api.post(
        "sites",
        "admin",
        json={"slug": "cotonou", "name": "Mairie de Cotonou", "timezone": "Africa/Porto-Novo"},
    )
    assert site.status_code == 201, site.get_json()
    assert site.get_json()["slug"] == "cotonou"

    service = api.post(
        "sites/cotonou/services",
        "admin",
        json={"code": "EC", "name": "État civil", "prefix": "c"},
    )
    assert service.status_code == 201, service.get_json()
    assert service.get_json()["prefix"] == "C"
    assert service.get_json()["names"] == {"fr": "État civil"}

    counter = api.post(
        "sites/cotonou/counters", "admin", json={"name": "Guichet A", "services": ["EC"]}
    )
    assert counter.status_code == 201
    assert isinstance(counter.get_json()["id"], int)
    assert counter.get_json()["services"] == ["EC"]

    device = api.post("sites/cotonou/devices", "admin", json={"kind": "kiosk", "name": "Borne"})
    assert device.status_code == 201
    token = device.get_json()["token"]
    assert token.startswith("gd_")

    ticket = api.post("sites/cotonou/tickets", token, json={"service": "EC"})
    assert ticket.status_code == 201
    assert ticket.get_json()["label"] == "C-001"

    listed = api.get("sites/cotonou/devices", "admin").get_json()
    assert "token" not in listed[0]


def test_hours_and_closures_round_trip(api, office):
    hours = {"monday": [["08:00", "12:30"], ["14:00", "17:00"]], "saturday": [["09:00", "12:00"]]}
    response = api.put(f"sites/{office.slug}/hours", "manager", json=hours)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["hours"] == hours

    response = api.put(
        f"sites/{office.slug}/closures", "manager", json=["2026-12-25", "2027-01-01"]
    )
    assert response.status_code == 200
    assert response.get_json()["closures"] == ["2026-12-25", "2027-01-01"]


@pytest.mark.parametrize(
    "hours",
    [
        {"lundi": [["08:00", "12:00"]]},
        {"monday": [["12:00", "08:00"]]},
        {"monday": [["08:00", "12:00"], ["11:00", "14:00"]]},
        {"monday": [["8h", "12:00"]]},
        {"monday": "08:00-12:00"},
    ],
)
def test_bad_hours_are_refused_with_400(api, office, hours):
    response = api.put(f"sites/{office.slug}/hours", "manager", json=hours)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] in ("invalid_request", "invalid_input")


def test_bad_closures_are_refused(api, office):
    response = api.put(f"sites/{office.slug}/closures", "manager", json=["25/12/2026"])
    assert response.status_code == 400
    response = api.put(f"sites/{office.slug}/closures", "manager", json={"day": "2026-12-25"})
    assert response.status_code == 400


def test_patch_service_changes_target_and_deactivates(api, office):
    response = api.patch(
        f"sites/{office.slug}/services/CNI",
        "manager",
        json={"target_wait_minutes": 15, "is_active": False},
    )
    assert response.status_code == 200
    assert response.get_json()["target_wait_minutes"] == 15
    refused = api.post(f"sites/{office.slug}/tickets", "kiosk", json={"service": "CNI"})
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "service_inactive"


def test_duplicate_codes_prefixes_and_slugs_conflict(api, office):
    same_code = api.post(
        f"sites/{office.slug}/services",
        "manager",
        json={"code": "CNI", "name": "Encore", "prefix": "Z"},
    )
    same_prefix = api.post(
        f"sites/{office.slug}/services",
        "manager",
        json={"code": "NEW", "name": "Nouveau", "prefix": "B"},
    )
    same_slug = api.post(
        "sites", "admin", json={"slug": office.slug, "name": "x", "timezone": "Africa/Dakar"}
    )
    for response in (same_code, same_prefix, same_slug):
        assert response.status_code == 409
        assert response.get_json()["error"]["code"] == "conflict"


def test_unknown_time_zone_is_refused(api):
    response = api.post(
        "sites", "admin", json={"slug": "x", "name": "X", "timezone": "Africa/Atlantis"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["details"]["field"] == "timezone"


def test_counter_weights_are_kept(api, office):
    response = api.post(
        f"sites/{office.slug}/counters",
        "manager",
        json={"name": "Guichet 9", "services": ["CNI", "CASIER"], "weights": {"CNI": 3}},
    )
    assert response.status_code == 201
    assert response.get_json()["weights"] == {"CNI": 3, "CASIER": 1}
    patched = api.patch(
        f"sites/{office.slug}/counters/{response.get_json()['id']}",
        "manager",
        json={"services": ["CASIER"]},
    )
    assert patched.get_json()["services"] == ["CASIER"]


def test_users_are_created_with_roles_and_sites(api, office):
    response = api.post(
        "users",
        "admin",
        json={
            "email": "Awa.Diallo@Example.SN",
            "password": "un mot de passe",
            "role": "agent",
            "sites": [office.slug],
            "full_name": "Awa Diallo",
        },
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["email"] == "awa.diallo@example.sn"
    assert response.get_json()["sites"] == [office.slug]
    token = api.post(
        "auth/token", json={"email": "awa.diallo@example.sn", "password": "un mot de passe"}
    )
    assert token.status_code == 200

    short = api.post(
        "users",
        "admin",
        json={
            "email": "x@example.sn",
            "password": "court",
            "role": "agent",
            "sites": [office.slug],
        },
    )
    assert short.status_code == 400
    duplicate = api.post(
        "users",
        "admin",
        json={
            "email": "awa.diallo@example.sn",
            "password": "un mot de passe",
            "role": "agent",
            "sites": [office.slug],
        },
    )
    assert duplicate.status_code == 409


# --- tickets ---------------------------------------------------------------------


def test_issued_ticket_has_the_contract_fields(api, office):
    body = api.issue("CNI")
    for key in (
        "id",
        "code",
        "number",
        "label",
        "service",
        "status",
        "position",
        "estimated_wait_minutes",
        "issued_at",
        "track_url",
    ):
        assert key in body
    assert body["label"] == "B-001"
    assert body["number"] == 1
    assert body["service"] == "CNI"
    assert body["status"] == "waiting"
    assert body["position"] == 0
    assert body["track_url"] == f"http://testserver/t/{body['code']}"
    assert body["issued_at"].endswith("Z")


def test_people_ahead_and_estimated_wait_grow_with_the_queue(api, office):
    first, second, third = (api.issue("CNI") for _ in range(3))
    assert [t["position"] for t in (first, second, third)] == [0, 1, 2]
    # 8 minutes per citizen, one counter assumed while none is open.
    assert third["estimated_wait_minutes"] == 16
    api.open_counter("g2", "agent")
    api.open_counter("g1", "agent2")
    fourth = api.issue("CNI")
    assert fourth["estimated_wait_minutes"] == 12  # 3 ahead × 8 min / 2 open counters


def test_priority_ticket_goes_ahead_of_normal_ones(api, office):
    api.issue("CNI")
    api.issue("CNI")
    priority = api.issue("CNI", priority=True)
    assert priority["position"] == 0
    assert priority["priority"] is True
    api.open_counter("g2")
    called = api.call_next("g2").get_json()
    assert called["label"] == priority["label"]


def test_idempotency_key_returns_the_same_ticket(api, office):
    headers = {"Idempotency-Key": "kiosk-1-0001"}
    first = api.post(
        f"sites/{office.slug}/tickets", "kiosk", json={"service": "CNI"}, headers=headers
    )
    again = api.post(
        f"sites/{office.slug}/tickets", "kiosk", json={"service": "CNI"}, headers=headers
    )
    assert first.status_code == again.status_code == 201
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = api.issue("CNI")
    assert other["number"] == 2

    reused = api.post(
        f"sites/{office.slug}/tickets", "kiosk", json={"service": "CASIER"}, headers=headers
    )
    assert reused.status_code == 422
    assert reused.get_json()["error"]["code"] == "idempotency_key_mismatch"


def test_phone_is_stored_in_e164_and_never_returned(api, office, app):
    body = api.issue("CNI", phone="77 123 45 67")
    assert "phone" not in body
    from queue_app.extensions import db
    from queue_app.models import Ticket

    with app.app_context():
        assert db.session.get(Ticket, body["id"]).phone == "+221771234567"
    bad = api.post(f"sites/{office.slug}/tickets", "kiosk", json={"service": "CNI", "phone": "12"})
    assert bad.status_code == 400
    assert bad.get_json()["error"]["details"]["field"] == "phone"


def test_get_ticket_shows_its_current_position(api, office):
    first = api.issue("CNI")
    second = api.issue("CNI")
    assert api.get(f"tickets/{second['id']}", "agent").get_json()["position"] == 1
    api.open_counter("g2")
    api.call_next("g2")
    assert api.get(f"tickets/{second['id']}", "agent").get_json()["position"] == 0
    called = api.get(f"tickets/{first['id']}", "agent").get_json()
    assert called["status"] == "called"
    assert called["position"] is None
    assert called["counter"] == {"id": office.counters["g2"].id, "name": "Guichet 2"}


# --- the counter's day -----------------------------------------------------------


def test_call_next_then_every_transition(api, office):
    ticket = api.issue("CASIER")
    api.open_counter("g3")
    called = api.call_next("g3")
    assert called.status_code == 200
    assert called.get_json()["status"] == "called"
    assert called.get_json()["counter"]["name"] == "Guichet 3"
    tid = ticket["id"]
    assert api.post(f"tickets/{tid}/recall", "agent").get_json()["recall_count"] == 1
    assert api.post(f"tickets/{tid}/start", "agent").get_json()["status"] == "serving"
    assert api.post(f"tickets/{tid}/finish", "agent").get_json()["status"] == "done"
    again = api.post(f"tickets/{tid}/finish", "agent")
    assert again.status_code == 422
    assert again.get_json()["error"]["code"] == "invalid_transition"


def test_call_next_with_nothing_waiting_answers_204(api, office):
    api.open_counter("g1")
    response = api.call_next("g1")
    assert response.status_code == 204
    assert response.data == b""


def test_call_next_finishes_the_ticket_in_progress(api, office):
    first = api.issue("CNI")
    api.issue("CNI")
    api.open_counter("g2")
    api.call_next("g2")
    api.call_next("g2")
    assert api.get(f"tickets/{first['id']}", "agent").get_json()["status"] == "done"


def test_no_show_and_cancel(api, office):
    absent = api.issue("CNI")
    leaving = api.issue("CNI")
    api.open_counter("g2")
    api.call_next("g2")
    assert api.post(f"tickets/{absent['id']}/no-show", "agent").get_json()["status"] == "no_show"
    assert api.post(f"tickets/{leaving['id']}/cancel", "agent").get_json()["status"] == "cancelled"
    assert api.post(f"tickets/{leaving['id']}/start", "agent").status_code == 422


def test_transfer_keeps_the_label_and_waits_in_the_new_service(api, office):
    ticket = api.issue("CNI")
    api.open_counter("g2")
    api.call_next("g2")
    moved = api.post(f"tickets/{ticket['id']}/transfer", "agent", json={"service": "CASIER"})
    assert moved.status_code == 200, moved.get_json()
    body = moved.get_json()
    assert (body["label"], body["service"], body["status"]) == ("B-001", "CASIER", "waiting")
    assert body["counter"] is None
    assert body["transfer_count"] == 1
    api.open_counter("g3", "agent2")
    assert api.call_next("g3", "agent2").get_json()["label"] == "B-001"
    # Numbers of the new service are untouched.
    assert api.issue("CASIER")["label"] == "A-001"

    same = api.post(f"tickets/{ticket['id']}/transfer", "agent2", json={"service": "CASIER"})
    assert same.status_code == 422
    unknown = api.post(f"tickets/{ticket['id']}/transfer", "agent2", json={"service": "NOPE"})
    assert unknown.status_code == 404


def test_counter_pause_and_close(api, office):
    api.open_counter("g2")
    counter_id = office.counters["g2"].id
    paused = api.post(f"counters/{counter_id}/pause", "agent", json={"reason": "Déjeuner"})
    assert paused.get_json()["state"] == "paused"
    assert paused.get_json()["pause_reason"] == "Déjeuner"
    api.issue("CNI")
    refused = api.call_next("g2")
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "counter_not_open"
    api.open_counter("g2")
    api.call_next("g2")
    busy = api.post(f"counters/{counter_id}/close", "agent")
    assert busy.status_code == 422
    assert busy.get_json()["error"]["code"] == "ticket_in_progress"
    current = api.get(f"counters/{counter_id}", "agent").get_json()
    assert current["current_ticket"] == "B-001"


def test_an_agent_cannot_take_a_counter_held_by_another(api, office):
    api.open_counter("g2", "agent")
    response = api.post(f"counters/{office.counters['g2'].id}/open", "agent2")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "counter_taken"


def test_taking_a_second_counter_releases_the_first(api, office):
    api.open_counter("g2", "agent")
    api.open_counter("g3", "agent")
    first = api.get(f"counters/{office.counters['g2'].id}", "agent").get_json()
    assert first["state"] == "closed"
    assert first["agent"] is None


# --- public tracking and the board ------------------------------------------------


def test_tracking_by_code_is_public_and_has_no_personal_data(api, office):
    ticket = api.issue("CNI", phone="+221 77 123 45 67")
    response = api.get(f"track/{ticket['code']}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["label"] == "B-001"
    assert body["status"] == "waiting"
    assert body["position"] == 0
    assert "phone" not in str(body)
    assert "771234567" not in str(body)
    assert api.get("track/NOSUCHCO").status_code == 404


def test_board_shows_latest_calls_and_waiting_counts(api, office):
    for _ in range(3):
        api.issue("CNI")
    api.issue("CASIER")
    api.open_counter("g2")
    api.call_next("g2")
    board = api.get(f"sites/{office.slug}/board", "display")
    assert board.status_code == 200
    body = board.get_json()
    assert body["site"] == office.slug
    assert body["waiting"] == {"CASIER": 1, "CNI": 2}
    assert body["calls"][0]["label"] == "B-001"
    assert body["calls"][0]["counter"] == "Guichet 2"
    assert body["calls"][0]["service"] == "CNI"
    assert body["calls"][0]["called_at"].endswith("Z")


# --- bad input never gives a 500 ---------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"data": "{not json", "content_type": "application/json"}, 400),
        ({"json": {"service": 12}}, 400),
        ({"json": {"service": "CNI", "priority": "maybe"}}, 400),
        ({"json": {"service": "CNI", "colour": "blue"}}, 400),
        ({"json": {}}, 400),
        ({"json": ["CNI"]}, 400),
        ({"json": {"service": "NOPE"}}, 404),
        ({"data": "service=CNI", "content_type": "application/x-www-form-urlencoded"}, 415),
        ({"json": {"service": "CNI", "phone": "x" * 500}}, 400),
        ({"data": '{"service": "' + "A" * 100_000 + '"}', "content_type": "application/json"}, 413),
    ],
)
def test_bad_ticket_requests_get_a_json_error(api, office, kwargs, status):
    response = api.post(f"sites/{office.slug}/tickets", "kiosk", **kwargs)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"]
    assert error["message"]


def test_unknown_site_ticket_and_route_are_404_json(api, office):
    assert api.get("sites/nowhere/board", "admin").status_code == 404
    assert api.get("tickets/999999", "admin").status_code == 404
    response = api.get("no/such/route", "admin")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_wrong_method_is_405_json(api, office):
    response = api.request("DELETE", f"sites/{office.slug}/tickets", "admin")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_non_numeric_ids_are_404_not_500(api, office):
    assert api.post("tickets/abc/finish", "admin").status_code == 404
    assert api.post("counters/1.5/call-next", "admin").status_code == 404


# --- OpenAPI and health ---------------------------------------------------------------


def test_openapi_document_describes_the_contract(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    paths = spec["paths"]
    for path in (
        "/api/v1/auth/token",
        "/api/v1/sites",
        "/api/v1/sites/{slug}/tickets",
        "/api/v1/counters/{counter_id}/call-next",
        "/api/v1/tickets/{ticket_id}/transfer",
        "/api/v1/track/{code}",
        "/api/v1/sites/{slug}/board",
        "/api/v1/sites/{slug}/hours",
    ):
        assert path in paths, path
    ticket_post = paths["/api/v1/sites/{slug}/tickets"]["post"]
    assert "requestBody" in ticket_post
    assert "201" in ticket_post["responses"]


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": "ok"}
