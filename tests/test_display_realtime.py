"""What the displays receive and may do, in process (Flask-SocketIO's test client).

Versions that order states across processes, a second waiting room's screen
(server-side filter), the screen above a counter, the message line, the
offices' recordings, and the display pages themselves over HTTP.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from queue_app.extensions import db
from queue_app.models import EventKind, TicketEvent, TicketStatus, utcnow
from queue_app.screens import site_version

from .conftest import Api, Office, build_office
from .test_realtime import connect, counts, flush, rooms_of

VOICE = Path(__file__).resolve().parent.parent / "display" / "static" / "voice" / "fr"


def _display_id(api: Api, office: Office) -> int:
    devices = api.get(f"sites/{office.slug}/devices", "manager").get_json()
    return next(d["id"] for d in devices if d["kind"] == "display")


def _second_room(api: Api, office: Office, services: list[str]) -> tuple[int, str]:
    created = api.post(
        f"sites/{office.slug}/devices", "manager", json={"kind": "display", "name": "Salle 2"}
    ).get_json()
    response = api.put(
        f"sites/{office.slug}/devices/{created['id']}/services",
        "manager",
        json={"services": services},
    )
    assert response.status_code == 200, response.get_json()
    return created["id"], created["token"]


# --- versions ----------------------------------------------------------------------------


def test_states_carry_a_version_that_grows(app, office, api):
    display = connect(app, auth={"token": office.tokens["display"]})
    tracker = connect(app)
    first = api.issue("CNI")
    mine = api.issue("CNI")
    acked = tracker.client.emit("track", {"code": mine["code"]}, callback=True)
    assert acked["position"] == 1
    flush(app)
    api.open_counter("g2", "agent2")
    assert api.call_next("g2", "agent2").get_json()["label"] == first["label"]
    flush(app)
    display.wait("queue_changed", lambda p: p == {"waiting": counts(office, CNI=1)})
    tracker.wait("ticket_updated", lambda p: p["position"] == 0)

    counts_versions = [v for name, v in display.versions if name == "queue_changed"]
    assert counts_versions == sorted(counts_versions)
    # One state per change: the two issues and the call (the publisher may read the
    # second issue's state for the first one's change when they are this fast, and
    # push that same state twice; never an older one after a newer one).
    assert len(set(counts_versions)) >= 2, counts_versions
    assert counts_versions[-1] > counts_versions[0]
    ticket_versions = [v for name, v in tracker.versions if name == "ticket_updated"]
    assert ticket_versions[-1] > acked["version"]
    board = display.client.emit("sync", callback=True)
    assert board["version"] == counts_versions[-1]
    rest = api.get(f"sites/{office.slug}/board", "display").get_json()
    assert rest["version"] == board["version"]
    assert api.get(f"track/{mine['code']}").get_json()["version"] == board["version"]


@pytest.mark.postgres
def test_a_version_grows_when_a_lower_event_id_commits_late(pg_app):
    """PostgreSQL gives ids at insert: the transaction with the lower id may commit last."""
    office = build_office(pg_app)
    api = Api(pg_app, office)
    ticket = api.issue("CNI")
    row = {
        "ticket_id": ticket["id"],
        "site_id": office.site.id,
        "service_id": office.services["CNI"].id,
        "kind": EventKind.ISSUED,
        "from_status": None,
        "to_status": TicketStatus.WAITING,
        "at": utcnow(),
    }
    with pg_app.app_context():
        engine = db.engine
        early = engine.connect()
        late = engine.connect()
        try:
            early_tx = early.begin()
            early.execute(insert(TicketEvent), row)  # takes the lower id, commits last
            with late.begin():
                late.execute(insert(TicketEvent), row)
            with Session(bind=engine) as reader:
                before = site_version(reader, office.site.id)
            early_tx.commit()
            with Session(bind=engine) as reader:
                after = site_version(reader, office.site.id)
        finally:
            early.close()
            late.close()
    assert after > before


# --- a second waiting room ------------------------------------------------------------------


def test_a_display_for_some_services_gets_only_theirs(app, office, api):
    device_id, token = _second_room(api, office, ["CASIER"])
    room2 = connect(app, auth={"token": token})
    main = connect(app, auth={"token": office.tokens["display"]})
    assert rooms_of(room2) == {f"display:{device_id}"}
    assert rooms_of(main) == {f"site:{office.slug}"}

    cni, casier = api.issue("CNI"), api.issue("CASIER")
    flush(app)
    room2.wait("queue_changed", lambda p: p == {"waiting": {"CASIER": 1}})
    api.open_counter("g2", "agent2")
    api.open_counter("g3", "agent")
    assert api.call_next("g2", "agent2").get_json()["label"] == cni["label"]
    assert api.call_next("g3", "agent").get_json()["label"] == casier["label"]
    flush(app)
    main.wait("ticket_called", lambda p: p["label"] == casier["label"])
    room2.wait("ticket_called", lambda p: p["label"] == casier["label"])
    assert [p["label"] for p in room2.named("ticket_called")] == [casier["label"]]
    assert all(set(p["waiting"]) == {"CASIER"} for p in room2.named("queue_changed"))
    assert {p["label"] for p in main.named("ticket_called")} == {cni["label"], casier["label"]}

    board = room2.client.emit("sync", callback=True)
    assert [c["label"] for c in board["calls"]] == [casier["label"]]
    assert board["waiting"] == {"CASIER": 0}
    assert [s["code"] for s in board["services"]] == ["CASIER"]
    rest = api.get(f"sites/{office.slug}/board", token).get_json()
    assert [c["label"] for c in rest["calls"]] == [casier["label"]]
    assert rest["waiting"] == {"CASIER": 0}


def test_configuring_a_display_tells_it_to_reload(app, office, api):
    main = connect(app, auth={"token": office.tokens["display"]})
    display_id = _display_id(api, office)
    response = api.put(
        f"sites/{office.slug}/devices/{display_id}/services", "manager", json={"services": ["CNI"]}
    )
    assert response.get_json()["services"] == ["CNI"]
    assert main.wait("display_config") == {"device": display_id}
    again = connect(app, auth={"token": office.tokens["display"]})
    assert rooms_of(again) == {f"display:{display_id}"}
    # Back to every service: the screen, now in its own room, is told there.
    api.put(f"sites/{office.slug}/devices/{display_id}/services", "manager", json={"services": []})
    assert again.wait("display_config") == {"device": display_id}
    assert rooms_of(connect(app, auth={"token": office.tokens["display"]})) == {
        f"site:{office.slug}"
    }


def test_device_services_are_checked(app, office, api):
    display_id = _display_id(api, office)
    path = f"sites/{office.slug}/devices/{display_id}/services"
    unknown = api.put(path, "manager", json={"services": ["NOPE"]})
    assert unknown.status_code == 404
    assert unknown.get_json()["error"]["code"] == "not_found"
    assert api.put(path, "manager", json={"services": "CNI"}).status_code == 400
    assert api.put(path, "manager", json={"services": ["CNI\u0000"]}).status_code == 400
    assert api.put(path, "agent", json={"services": ["CNI"]}).status_code == 403
    assert api.get(path, "manager").get_json()["services"] == []


# --- the screen above a counter --------------------------------------------------------------


def test_the_counter_screen_follows_its_counter(app, office, api):
    g1, g2 = office.counters["g1"].id, office.counters["g2"].id
    screen = connect(app, auth={"token": office.tokens["display"], "counter": g1})
    assert rooms_of(screen) == {f"counter:{g1}"}
    state = screen.client.emit("sync", callback=True)
    assert state["counter"]["state"] == "closed"
    assert state["counter"]["label"] is None

    api.open_counter("g1", "agent")
    flush(app)
    screen.wait("counter_changed", lambda p: p["state"] == "open" and p["label"] is None)
    ticket = api.issue("CNI")
    assert api.call_next("g1", "agent").status_code == 200
    flush(app)
    called = screen.wait("counter_changed", lambda p: p["label"] == ticket["label"])
    assert called["status"] == "called"
    assert called["counter"] == "Guichet 1"
    assert screen.wait("ticket_called")["label"] == ticket["label"]
    assert api.post(f"tickets/{ticket['id']}/transfer", "agent", json={"service": "CASIER"})
    flush(app)
    screen.wait("counter_changed", lambda p: p["label"] is None and p["state"] == "open")
    # Another counter's activity is not sent here.
    api.issue("CNI")
    api.open_counter("g2", "agent2")
    assert api.call_next("g2", "agent2").status_code == 200
    flush(app)
    assert {p["counter_id"] for p in screen.named("counter_changed")} == {g1}
    assert all(p["counter_id"] == g1 for p in screen.named("ticket_called"))
    # A counter of another site, or none, is refused.
    from queue_app.extensions import socketio

    refused = socketio.test_client(app, auth={"token": office.tokens["display"], "counter": 10**6})
    assert not refused.is_connected()
    assert g2 != g1


# --- the message line -------------------------------------------------------------------


def test_the_message_line_is_pushed_to_every_display(app, office, api):
    _, token = _second_room(api, office, ["CNI"])
    room2 = connect(app, auth={"token": token})
    main = connect(app, auth={"token": office.tokens["display"]})
    path = f"sites/{office.slug}/display-message"
    response = api.put(path, "manager", json={"message": "  Fermeture   à 15 h  "})
    assert response.get_json() == {"message": "Fermeture à 15 h"}
    assert main.wait("display_message") == {"message": "Fermeture à 15 h"}
    assert room2.wait("display_message") == {"message": "Fermeture à 15 h"}
    assert main.client.emit("sync", callback=True)["message"] == "Fermeture à 15 h"
    assert api.put(path, "admin", json={"message": None}).get_json() == {"message": None}
    assert main.wait("display_message", lambda p: p["message"] is None) == {"message": None}
    assert api.put(path, "manager", json={"message": "x" * 281}).status_code == 400
    assert api.put(path, "manager", json={"message": "a\u0007b"}).status_code == 400
    assert api.put(path, "manager", json={}).status_code == 400
    assert api.put(path, "agent", json={"message": "hello"}).status_code == 403
    other = Api(app, build_office(app, "dakar"))
    assert other.put(path, "manager", json={"message": "hello"}).status_code == 403


# --- recordings ---------------------------------------------------------------------------


def test_an_admin_uploads_recordings_and_displays_fetch_them(app, office, api):
    ogg = (VOICE / "ticket.ogg").read_bytes()
    path = f"sites/{office.slug}/voice-clips/wo/ticket"
    headers = {"Content-Type": "audio/ogg"}
    created = api.put(path, "admin", data=ogg, headers=headers)
    assert created.status_code == 200, created.get_json()
    assert created.get_json()["content_type"] == "audio/ogg"
    assert created.get_json()["size"] == len(ogg)
    listed = api.get(f"sites/{office.slug}/voice-clips", "display").get_json()
    assert [(c["language"], c["key"]) for c in listed["clips"]] == [("wo", "ticket")]
    assert "number-42" in listed["builtin"]["fr"]
    fetched = api.get(path, "display")
    assert fetched.status_code == 200
    assert fetched.data == ogg
    assert fetched.mimetype == "audio/ogg"
    assert (
        api.get(path, "display", headers={"If-None-Match": fetched.headers["ETag"]}).status_code
        == 304
    )

    # Only audio, named as the display knows, not too big, by an admin.
    text = api.put(path, "admin", data=b"<script>alert(1)</script>", headers=headers)
    assert text.status_code == 400
    assert text.get_json()["error"]["code"] == "invalid_input"
    assert (
        api.put(f"sites/{office.slug}/voice-clips/wo/hello", "admin", data=ogg).status_code == 400
    )
    assert (
        api.put(f"sites/{office.slug}/voice-clips/WO!/ticket", "admin", data=ogg).status_code == 400
    )
    big = b"OggS" + b"\0" * (app.config["VOICE_CLIP_MAX_BYTES"] + 1)
    too_big = api.put(path, "admin", data=big, headers=headers)
    assert too_big.status_code == 413
    assert too_big.get_json()["error"]["code"] == "payload_too_large"
    assert api.put(path, "manager", data=ogg, headers=headers).status_code == 403
    assert api.get(path, "display").data == ogg  # nothing refused was kept

    assert api.request("DELETE", path, "admin").status_code == 204
    assert api.get(path, "display").status_code == 404


# --- the pages over HTTP ----------------------------------------------------------------------


def test_the_display_page_keeps_its_token_and_the_policy(app, office, client):
    token = office.tokens["display"]
    page = client.get(f"/display/{office.slug}?token={token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Appel en cours" in html
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    # No inline code, no inline handlers, no style attributes: data travels as JSON.
    assert re.findall(r"<script(?![^>]*(?:src=|type=\"application/json\"))", html) == []
    assert not re.search(r"\son[a-z]+=", html)
    assert " style=" not in html
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert f"Path=/display/{office.slug}" in cookie
    # Opened again without the token in the address, the cookie pairs it.
    again = client.get(f"/display/{office.slug}")
    assert again.status_code == 200
    assert "display-config" in again.get_data(as_text=True)


def test_a_page_without_a_valid_token_says_how_to_pair(app, office):
    fresh = app.test_client()
    for url in (
        f"/display/{office.slug}",
        f"/display/{office.slug}?token=gd_nope",
        f"/display/{office.slug}?token={office.tokens['kiosk']}",
        f"/display/nowhere?token={office.tokens['display']}",
    ):
        page = fresh.get(url)
        assert page.status_code == 403, url
        html = page.get_data(as_text=True)
        assert "Cet écran n'est pas appairé" in html
        assert "display-config" not in html
        assert office.tokens["display"] not in html
