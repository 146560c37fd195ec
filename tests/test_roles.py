"""Who may call what: every /api/v1 route against every kind of principal.

The rules (admin everywhere; a manager on their sites; an agent at the counters of
their site; a kiosk issues tickets for its site; a display reads its site's board;
tablets and printers use none of these routes; anonymous callers only reach the
public routes) are written below as one table of cases. Each case is run on the
same starting day, restored before every case that could have changed it:

* site ``thies``: agent holds Guichet 1 with ticket "called" (A-001) at it, agent2
  holds Guichet 2 (open, idle), Guichet 3 is closed, ticket "waiting" (B-001) waits
  for CNI, issued by the kiosk;
* site ``dakar``: the same staff and devices (``dk_*``), one ticket waiting;
* a manager of both sites (``shared@example.sn``).

A refused request must change nothing in the database; an allowed one must have done
its work (checked for the requests that change something).
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from queue_app import create_app
from queue_app.infra.hotcache import hot_cache

from .conftest import PASSWORD, Api, base_config, build_office, dispose

THIES_USERS = ("admin", "manager", "agent", "agent2")
THIES_DEVICES = ("kiosk", "display", "tablet", "printer")
DAKAR = ("dk_manager", "dk_agent", "dk_kiosk", "dk_display")
PRINCIPALS: tuple[str | None, ...] = (*THIES_USERS, *THIES_DEVICES, *DAKAR, None)
STAFF = THIES_USERS
MANAGERS = ("admin", "manager")
DK_STAFF = ("admin", "dk_manager", "dk_agent")
ERROR_CODES = {401: "unauthorized", 403: "forbidden", 404: "not_found"}


# --- the starting day, built once and restored before each case ---------------------


@dataclass
class World:
    app: Flask
    client: FlaskClient
    db_path: Path
    image: sqlite3.Connection
    tokens: dict[str, str]
    ids: dict[str, Any]
    user_ids: dict[str, int]
    dirty: bool = False

    def call(self, method: str, path: str, who: str | None = None, json: Any = None) -> Any:
        """Call /api/v1/<path> (or an absolute path) as a principal or a raw token."""
        headers = {}
        token = self.tokens.get(who, who) if who else None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = path if path.startswith("/") else f"/api/v1/{path}"
        kwargs = {} if json is None else {"json": json}
        return self.client.open(url, method=method, headers=headers, **kwargs)

    def get(self, path: str, who: str | None = "admin") -> Any:
        return self.call("GET", path, who)

    def snapshot(self) -> list[str]:
        conn = sqlite3.connect(self.db_path)
        try:
            return list(conn.iterdump())
        finally:
            conn.close()

    def restore(self) -> None:
        if self.dirty:
            conn = sqlite3.connect(self.db_path)
            try:
                self.image.backup(conn)
            finally:
                conn.close()
            # Written behind the app's back, as another process without Redis would:
            # what the app cached of tokens and set-up must not outlive it.
            hot_cache(self.app).drop()
            self.dirty = False


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("roles")
    db_path = folder / "guichet.db"
    shutil.copy(sqlite_template, db_path)
    # When devices were seen is written by a background flush, at any moment: not
    # during this matrix, which compares the database around each request.
    app = create_app(
        {**base_config(folder, f"sqlite:///{db_path}"), "DEVICE_SEEN_FLUSH_SECONDS": 3600.0}
    )
    thies = build_office(app)
    dakar = build_office(app, slug="dakar")
    api, dk = Api(app, thies), Api(app, dakar)
    tokens = {who: api.token(who) for who in (*THIES_USERS, *THIES_DEVICES)}
    tokens |= {f"dk_{who}": dk.token(who) for who in ("manager", "agent", "kiosk", "display")}
    devices = {d["kind"]: d["id"] for d in api.get("sites/thies/devices", "admin").get_json()}
    # The thies kiosk prints through the thies print agent: its tickets have print jobs.
    patched = api.patch(
        f"sites/thies/devices/{devices['kiosk']}", "admin", json={"print_agent": devices["printer"]}
    )
    assert patched.status_code == 200, patched.get_json()

    api.open_counter("g1", "agent")
    called = api.issue("CASIER")
    assert api.call_next("g1", "agent").get_json()["id"] == called["id"]
    waiting = api.issue("CNI")
    api.open_counter("g2", "agent2")
    dk_waiting = dk.issue("CNI")
    shared = api.post(
        "users",
        "admin",
        json={
            "email": "shared@example.sn",
            "password": PASSWORD,
            "role": "manager",
            "sites": ["thies", "dakar"],
        },
    )
    assert shared.status_code == 201, shared.get_json()
    devices = {d["kind"]: d["id"] for d in api.get("sites/thies/devices", "admin").get_json()}
    complaint = api.post("sites/thies/complaints", json={"text": "Deux heures d'attente ce matin."})
    assert complaint.status_code == 201, complaint.get_json()

    user_ids = {who: user.id for who, user in thies.users.items()}
    user_ids |= {f"dk_{who}": user.id for who, user in dakar.users.items()}
    user_ids["shared"] = shared.get_json()["id"]
    ids = {
        "called": called["id"],
        "called_label": called["label"],
        "waiting": waiting["id"],
        "code": waiting["code"],
        "dk_waiting": dk_waiting["id"],
        "kiosk_device": devices["kiosk"],
        "waiting_job": waiting["print_job"]["id"],
        "printer_device": devices["printer"],
        "display_device": devices["display"],
        "complaint": complaint.get_json()["reference"],
        **{name: counter.id for name, counter in thies.counters.items()},
        **{f"user_{who}": uid for who, uid in user_ids.items()},
    }

    image = sqlite3.connect(":memory:")
    live = sqlite3.connect(db_path)
    try:
        live.backup(image)
    finally:
        live.close()
    yield World(app, app.test_client(), db_path, image, tokens, ids, user_ids)
    image.close()
    dispose(app)


# --- the table ----------------------------------------------------------------------

Check = Callable[[World, Any, str | None], None]


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    who: str | None
    status: int
    body: Any = None
    check: Check | None = field(default=None, compare=False)
    note: str = ""

    @property
    def id(self) -> str:
        note = f" ({self.note})" if self.note else ""
        return f"{self.method} {self.path} as {self.who or 'anonymous'} -> {self.status}{note}"


def endpoint(
    method: str,
    path: str,
    allowed: tuple[str, ...],
    status: int = 200,
    body: Any = None,
    check: Check | None = None,
    **others: int,
) -> list[Case]:
    """One case per principal: ``allowed`` get ``status`` (and ``check``), anonymous
    callers 401, the principals named in ``others`` their status, everyone else 403."""
    cases = []
    for who in PRINCIPALS:
        if who is None:
            cases.append(Case(method, path, None, 401, body))
        elif who in others:
            cases.append(Case(method, path, who, others[who], body))
        elif who in allowed:
            cases.append(Case(method, path, who, status, body, check))
        else:
            cases.append(Case(method, path, who, 403, body))
    return cases


def public(
    method: str, path: str, status: int = 200, body: Any = None, check: Check | None = None
) -> list[Case]:
    """A public route: everyone, anonymous or not, gets the same answer."""
    return [Case(method, path, who, status, body, check) for who in PRINCIPALS]


# --- what allowed requests must have done ---------------------------------------------


def sees_sites(w: World, r: Any, who: str | None) -> None:
    visible = {"admin": ["dakar", "thies"], **dict.fromkeys(DAKAR, ["dakar"])}
    assert [site["slug"] for site in r.get_json()] == visible.get(who or "", ["thies"])


def is_site(slug: str) -> Check:
    def check(w: World, r: Any, who: str | None) -> None:
        body = r.get_json()
        assert body["slug"] == slug
        assert {s["code"] for s in body["services"]} == {"CASIER", "CNI"}

    return check


def site_created(w: World, r: Any, who: str | None) -> None:
    assert r.get_json()["slug"] == "louga"
    assert w.get("sites/louga").status_code == 200


def site_renamed(w: World, r: Any, who: str | None) -> None:
    assert w.get("sites/thies").get_json()["name"] == "Maison France Services"


HOURS = {"monday": [["08:00", "12:00"]]}


def hours_saved(w: World, r: Any, who: str | None) -> None:
    assert w.get("sites/thies").get_json()["hours"] == HOURS


def hours_cleared(w: World, r: Any, who: str | None) -> None:
    assert r.get_json()["hours"] is None
    assert w.get("sites/thies").get_json()["hours"] is None


def closures_saved(w: World, r: Any, who: str | None) -> None:
    assert w.get("sites/thies").get_json()["closures"] == ["2026-12-25"]


def lists_services(w: World, r: Any, who: str | None) -> None:
    assert sorted(s["code"] for s in r.get_json()) == ["CASIER", "CNI"]


def is_cni(w: World, r: Any, who: str | None) -> None:
    assert r.get_json()["code"] == "CNI"


def service_created(w: World, r: Any, who: str | None) -> None:
    assert w.get("sites/thies/services/PASS").get_json()["prefix"] == "P"


def service_changed(w: World, r: Any, who: str | None) -> None:
    assert w.get("sites/thies/services/CNI").get_json()["target_wait_minutes"] == 15


def lists_counters(w: World, r: Any, who: str | None) -> None:
    assert [c["name"] for c in r.get_json()] == ["Guichet 1", "Guichet 2", "Guichet 3"]


def counter_created(w: World, r: Any, who: str | None) -> None:
    counter = w.get(f"counters/{r.get_json()['id']}").get_json()
    assert (counter["name"], counter["site"], counter["services"]) == (
        "Guichet 4",
        "thies",
        ["CNI"],
    )


def counter_renamed(w: World, r: Any, who: str | None) -> None:
    assert w.get(f"counters/{w.ids['g3']}").get_json()["name"] == "Guichet trois"


def lists_devices(w: World, r: Any, who: str | None) -> None:
    devices = r.get_json()
    assert sorted(d["kind"] for d in devices) == ["display", "kiosk", "printer", "tablet"]
    assert all("token" not in d for d in devices)


def device_renamed(w: World, r: Any, who: str | None) -> None:
    assert r.get_json()["name"] == "Borne A"
    assert r.get_json()["print_agent"] == w.ids["printer_device"]


def printer_via_agent(w: World, r: Any, who: str | None) -> None:
    assert r.get_json()["via"] == "agent"
    assert r.get_json()["pending_jobs"] == 2


def lists_alerts(w: World, r: Any, who: str | None) -> None:
    assert isinstance(r.get_json(), list)


def printer_reported(w: World, r: Any, who: str | None) -> None:
    assert r.get_json()["kiosks"] == [w.ids["kiosk_device"]]
    assert r.get_json()["printer_status"] == "ok"


def lists_print_jobs(w: World, r: Any, who: str | None) -> None:
    assert {job["ticket"]["label"] for job in r.get_json()} == {"A-001", "B-001"}


def is_job(w: World, r: Any, who: str | None) -> None:
    assert r.get_json()["id"] == w.ids["waiting_job"]


def job_claimed(w: World, r: Any, who: str | None) -> None:
    assert w.ids["waiting_job"] in [job["id"] for job in r.get_json()]


def job_done(w: World, r: Any, who: str | None) -> None:
    assert w.get(f"print-jobs/{w.ids['waiting_job']}").get_json()["status"] == "done"


def job_failed(w: World, r: Any, who: str | None) -> None:
    assert r.get_json()["last_error"] == "paper jam"


def reprint_spooled(w: World, r: Any, who: str | None) -> None:
    assert (r.get_json()["kind"], r.get_json()["ticket"]["id"]) == ("reprint", w.ids["waiting"])


def device_created(w: World, r: Any, who: str | None) -> None:
    token = r.get_json()["token"]
    assert w.call("POST", "sites/thies/tickets", token, {"service": "CNI"}).status_code == 201


def token_rotated(w: World, r: Any, who: str | None) -> None:
    assert w.get("sites/thies/services", "kiosk").status_code == 401
    assert w.get("sites/thies/services", r.get_json()["token"]).status_code == 200


def device_revoked(w: World, r: Any, who: str | None) -> None:
    assert r.get_json()["revoked"] is True
    assert w.get("sites/thies/services", "kiosk").status_code == 401


def shows_board(slug: str) -> Check:
    def check(w: World, r: Any, who: str | None) -> None:
        body = r.get_json()
        assert body["site"] == slug
        if slug == "thies":
            assert [c["label"] for c in body["calls"]] == [w.ids["called_label"]]
            assert body["waiting"]["CNI"] == 1

    return check


def ticket_issued(w: World, r: Any, who: str | None) -> None:
    body = r.get_json()
    assert (body["service"], body["status"]) == ("CNI", "waiting")
    assert body["source"] == ("kiosk" if (who or "").endswith("kiosk") else "staff")
    assert w.get(f"tickets/{body['id']}").get_json()["label"] == body["label"]


def is_ticket(key: str) -> Check:
    def check(w: World, r: Any, who: str | None) -> None:
        assert r.get_json()["id"] == w.ids[key]

    return check


def ticket_now(key: str, status: str, **fields: Any) -> Check:
    """The ticket answered and stored is in ``status`` (with ``fields``)."""

    def check(w: World, r: Any, who: str | None) -> None:
        stored = w.get(f"tickets/{w.ids[key]}").get_json()
        for body in (r.get_json(), stored):
            assert body["id"] == w.ids[key]
            assert body["status"] == status
            for name, value in fields.items():
                assert body[name] == value, name

    return check


def is_counter_g1(w: World, r: Any, who: str | None) -> None:
    body = r.get_json()
    assert (body["id"], body["current_ticket"]) == (w.ids["g1"], w.ids["called_label"])
    assert body["agent"]["id"] == w.user_ids["agent"]


def counter_state(key: str, state: str, holder: str | None = "caller") -> Check:
    def check(w: World, r: Any, who: str | None) -> None:
        stored = w.get(f"counters/{w.ids[key]}").get_json()
        holder_name = who if holder == "caller" else holder
        agent_id = w.user_ids[holder_name] if holder_name else None
        for body in (r.get_json(), stored):
            assert body["id"] == w.ids[key]
            assert body["state"] == state
            assert (body["agent"] or {}).get("id") == agent_id

    return check


def called_next(w: World, r: Any, who: str | None) -> None:
    body = r.get_json()
    assert (body["id"], body["status"], body["counter"]["id"]) == (
        w.ids["waiting"],
        "called",
        w.ids["g1"],
    )
    # The ticket in progress at the counter was finished first.
    assert w.get(f"tickets/{w.ids['called']}").get_json()["status"] == "done"


THIES_EMAILS = {"manager@thies.sn", "agent@thies.sn", "agent2@thies.sn", "shared@example.sn"}
DAKAR_EMAILS = {"manager@dakar.sn", "agent@dakar.sn", "agent2@dakar.sn", "shared@example.sn"}


def sees_users(w: World, r: Any, who: str | None) -> None:
    emails = {u["email"] for u in r.get_json()}
    if who == "admin":
        assert emails == THIES_EMAILS | DAKAR_EMAILS | {
            "admin-thies@example.sn",
            "admin-dakar@example.sn",
        }
    else:
        assert emails == (DAKAR_EMAILS if who in DAKAR else THIES_EMAILS)


NEW_USER = {"email": "new@thies.sn", "password": "a long password", "role": "agent"}


def user_created(w: World, r: Any, who: str | None) -> None:
    assert (r.get_json()["email"], r.get_json()["sites"]) == ("new@thies.sn", ["thies"])
    login = {"email": "new@thies.sn", "password": "a long password"}
    assert w.call("POST", "auth/token", None, login).status_code == 200


def message_is(text: str | None) -> Check:
    def check(w: World, r: Any, who: str | None) -> None:
        assert r.get_json() == {"message": text}
        assert w.get("sites/thies/board").get_json()["message"] == text

    return check


def display_shows_only_cni(w: World, r: Any, who: str | None) -> None:
    assert r.get_json()["services"] == ["CNI"]
    board = w.get("sites/thies/board", "display").get_json()
    assert set(board["waiting"]) == {"CNI"}


def lists_voices(w: World, r: Any, who: str | None) -> None:
    body = r.get_json()
    assert body["clips"] == []
    assert "fr" in body["builtin"]


def is_agent(w: World, r: Any, who: str | None) -> None:
    assert r.get_json()["email"] == "agent@thies.sn"


def user_renamed(w: World, r: Any, who: str | None) -> None:
    assert w.get(f"users/{w.ids['user_agent']}").get_json()["full_name"] == "Awa Ndiaye"


def tracks_waiting(w: World, r: Any, who: str | None) -> None:
    body = r.get_json()
    assert (body["status"], body["position"], body["counter"]) == ("waiting", 0, None)


def token_given(w: World, r: Any, who: str | None) -> None:
    assert w.get("sites/thies/counters", r.get_json()["token"]).status_code == 200


def openapi(w: World, r: Any, who: str | None) -> None:
    assert "/api/v1/sites/{slug}/tickets" in r.get_json()["paths"]


def docs_page(w: World, r: Any, who: str | None) -> None:
    assert "swagger-ui-bundle.js" in r.get_data(as_text=True)


TICKET_ACTIONS = {
    "recall": ("called", {"recall_count": 1}),
    "start": ("serving", {}),
    "finish": ("done", {}),
    "no-show": ("no_show", {}),
    "cancel": ("cancelled", {}),
}

CASES: list[Case] = [
    # --- sites ---
    *endpoint("GET", "sites", (*STAFF, "dk_manager", "dk_agent"), check=sees_sites),
    *endpoint(
        "POST",
        "sites",
        ("admin",),
        201,
        {"slug": "louga", "name": "Mairie de Louga", "timezone": "Africa/Dakar"},
        site_created,
    ),
    # A kiosk lists its services (below), not the counters and who sits at them.
    *endpoint("GET", "sites/thies", STAFF, check=is_site("thies")),
    *endpoint("GET", "sites/dakar", DK_STAFF, check=is_site("dakar")),
    *endpoint(
        "PATCH",
        "sites/thies",
        MANAGERS,
        body={"name": "Maison France Services"},
        check=site_renamed,
    ),
    *endpoint("PUT", "sites/thies/hours", MANAGERS, body=HOURS, check=hours_saved),
    *endpoint("DELETE", "sites/thies/hours", MANAGERS, check=hours_cleared),
    *endpoint("PUT", "sites/thies/closures", MANAGERS, body=["2026-12-25"], check=closures_saved),
    # --- services ---
    *endpoint("GET", "sites/thies/services", (*STAFF, "kiosk"), check=lists_services),
    *endpoint(
        "POST",
        "sites/thies/services",
        MANAGERS,
        201,
        {"code": "PASS", "name": "Passeport", "prefix": "P"},
        service_created,
    ),
    *endpoint("GET", "sites/thies/services/CNI", (*STAFF, "kiosk"), check=is_cni),
    *endpoint(
        "PATCH",
        "sites/thies/services/CNI",
        MANAGERS,
        body={"target_wait_minutes": 15},
        check=service_changed,
    ),
    # --- counters: configuration ---
    *endpoint("GET", "sites/thies/counters", STAFF, check=lists_counters),
    *endpoint(
        "POST",
        "sites/thies/counters",
        MANAGERS,
        201,
        {"name": "Guichet 4", "services": ["CNI"]},
        counter_created,
    ),
    *endpoint(
        "PATCH",
        "sites/thies/counters/{g3}",
        MANAGERS,
        body={"name": "Guichet trois"},
        check=counter_renamed,
    ),
    # A counter of another site is not reached through one's own site.
    Case("PATCH", "sites/dakar/counters/{g3}", "dk_manager", 404, {"name": "x"}),
    Case("PATCH", "sites/dakar/counters/{g3}", "admin", 404, {"name": "x"}),
    # --- devices ---
    *endpoint("GET", "sites/thies/devices", MANAGERS, check=lists_devices),
    *endpoint(
        "POST",
        "sites/thies/devices",
        MANAGERS,
        201,
        {"kind": "kiosk", "name": "Borne 2"},
        device_created,
    ),
    *endpoint(
        "POST", "sites/thies/devices/{kiosk_device}/rotate-token", MANAGERS, check=token_rotated
    ),
    *endpoint("POST", "sites/thies/devices/{kiosk_device}/revoke", MANAGERS, check=device_revoked),
    Case("POST", "sites/dakar/devices/{kiosk_device}/rotate-token", "dk_manager", 404),
    Case("POST", "sites/dakar/devices/{kiosk_device}/revoke", "dk_manager", 404),
    # --- kiosk printers and the print spool ---
    *endpoint(
        "PATCH",
        "sites/thies/devices/{kiosk_device}",
        MANAGERS,
        body={"name": "Borne A"},
        check=device_renamed,
    ),
    Case("PATCH", "sites/dakar/devices/{kiosk_device}", "dk_manager", 404, {"name": "x"}),
    *endpoint("GET", "sites/thies/devices/{kiosk_device}/printer", STAFF, check=printer_via_agent),
    *endpoint("GET", "sites/thies/print-jobs", STAFF, check=lists_print_jobs),
    # A job: staff of its site, the kiosk it prints for, the agent that prints it.
    *endpoint("GET", "print-jobs/{waiting_job}", (*STAFF, "kiosk", "printer"), check=is_job),
    *endpoint("POST", "print-jobs/claim", ("printer",), check=job_claimed),
    *endpoint("POST", "print-jobs/{waiting_job}/done", ("printer",), body={}, check=job_done),
    *endpoint(
        "POST",
        "print-jobs/{waiting_job}/failed",
        ("printer",),
        body={"error": "paper jam"},
        check=job_failed,
    ),
    *endpoint("POST", "print-jobs/{waiting_job}/reprint", STAFF, check=is_job),
    *endpoint("POST", "tickets/{waiting}/reprint", STAFF, 201, check=reprint_spooled),
    # --- operations: a site's alerts; a print agent's report of its printer ---
    *endpoint("GET", "sites/thies/alerts", STAFF, check=lists_alerts),
    Case("GET", "sites/dakar/alerts", "dk_manager", 200),
    *endpoint(
        "POST",
        "print-agents/me/printer-status",
        ("printer",),
        body={"online": True, "paper": "ok", "cover": "closed"},
        check=printer_reported,
    ),
    # --- the board ---
    *endpoint("GET", "sites/thies/board", (*STAFF, "display"), check=shows_board("thies")),
    *endpoint("GET", "sites/dakar/board", (*DK_STAFF, "dk_display"), check=shows_board("dakar")),
    # --- displays: message line, a device's services, recorded voices ---
    *endpoint("GET", "sites/thies/display-message", (*STAFF, "display"), check=message_is(None)),
    *endpoint(
        "PUT",
        "sites/thies/display-message",
        MANAGERS,
        body={"message": "Fermeture à 15 h ce vendredi"},
        check=message_is("Fermeture à 15 h ce vendredi"),
    ),
    *endpoint("GET", "sites/thies/devices/{display_device}/services", MANAGERS),
    *endpoint(
        "PUT",
        "sites/thies/devices/{display_device}/services",
        MANAGERS,
        body={"services": ["CNI"]},
        check=display_shows_only_cni,
    ),
    *endpoint("GET", "sites/thies/voice-clips", (*STAFF, "display"), check=lists_voices),
    # No recording yet: readers get 404, the admin's JSON body is no recording (400).
    *endpoint("GET", "sites/thies/voice-clips/fr/ticket", (*STAFF, "display"), 404),
    *endpoint("PUT", "sites/thies/voice-clips/fr/ticket", ("admin",), 400, body={"a": 1}),
    *endpoint("DELETE", "sites/thies/voice-clips/fr/ticket", ("admin",), 404),
    # --- tickets ---
    *endpoint(
        "POST",
        "sites/thies/tickets",
        (*STAFF, "kiosk"),
        201,
        {"service": "CNI"},
        ticket_issued,
    ),
    *endpoint(
        "POST",
        "sites/dakar/tickets",
        (*DK_STAFF, "dk_kiosk"),
        201,
        {"service": "CNI"},
        ticket_issued,
    ),
    # Staff of the site, or the kiosk that issued the ticket (for KIOSK_READ_MINUTES).
    *endpoint("GET", "tickets/{waiting}", (*STAFF, "kiosk"), check=is_ticket("waiting")),
    *endpoint(
        "GET", "tickets/{dk_waiting}", (*DK_STAFF, "dk_kiosk"), check=is_ticket("dk_waiting")
    ),
    # A ticket at a counter: only the agent holding that counter (or a manager, an admin).
    *(
        case
        for action, (status, fields) in TICKET_ACTIONS.items()
        for case in endpoint(
            "POST",
            f"tickets/{{called}}/{action}",
            ("admin", "manager", "agent"),
            check=ticket_now("called", status, **fields),
        )
    ),
    *endpoint(
        "POST",
        "tickets/{called}/transfer",
        ("admin", "manager", "agent"),
        body={"service": "CNI"},
        check=ticket_now("called", "waiting", service="CNI", counter=None),
    ),
    # A waiting ticket: any staff of its site may cancel or transfer it.
    *endpoint("POST", "tickets/{waiting}/cancel", STAFF, check=ticket_now("waiting", "cancelled")),
    *endpoint(
        "POST",
        "tickets/{waiting}/transfer",
        STAFF,
        body={"service": "CASIER"},
        check=ticket_now("waiting", "waiting", service="CASIER"),
    ),
    *endpoint(
        "POST", "tickets/{dk_waiting}/cancel", DK_STAFF, check=ticket_now("dk_waiting", "cancelled")
    ),
    # --- counters at work ---
    *endpoint("GET", "counters/{g1}", STAFF, check=is_counter_g1),
    # Any user of the site may take a free counter; the agent still serving a ticket at
    # Guichet 1 must finish it first (422, a state rule, not a role rule).
    *endpoint(
        "POST",
        "counters/{g3}/open",
        ("admin", "manager", "agent2"),
        check=counter_state("g3", "open"),
        agent=422,
    ),
    Case("POST", "counters/{g2}/open", "agent", 409, note="held by agent2"),
    *endpoint(
        "POST",
        "counters/{g1}/pause",
        ("admin", "manager", "agent"),
        body={"reason": "Déjeuner"},
        check=counter_state("g1", "paused", holder="agent"),
    ),
    *endpoint(
        "POST",
        "counters/{g2}/close",
        ("admin", "manager", "agent2"),
        check=counter_state("g2", "closed", holder=None),
    ),
    *endpoint("POST", "counters/{g1}/call-next", ("admin", "manager", "agent"), check=called_next),
    # --- users ---
    *endpoint("GET", "users", ("admin", "manager", "dk_manager"), check=sees_users),
    *endpoint(
        "POST",
        "users",
        MANAGERS,
        201,
        {**NEW_USER, "sites": ["thies"]},
        user_created,
    ),
    Case("POST", "users", "manager", 403, {**NEW_USER, "sites": ["dakar"]}, note="other site"),
    Case("POST", "users", "manager", 403, {**NEW_USER, "role": "admin"}, note="an admin"),
    # Users of other sites are hidden (404), as are admins from managers.
    *endpoint("GET", "users/{user_agent}", MANAGERS, check=is_agent, dk_manager=404),
    Case("GET", "users/{user_admin}", "manager", 404),
    Case("GET", "users/{user_dk_agent}", "manager", 404),
    *endpoint(
        "PATCH",
        "users/{user_agent}",
        MANAGERS,
        body={"full_name": "Awa Ndiaye"},
        check=user_renamed,
        dk_manager=404,
    ),
    Case("PATCH", "users/{user_admin}", "manager", 404, {"full_name": "x"}),
    Case("PATCH", "users/{user_dk_agent}", "manager", 404, {"is_active": False}),
    Case("PATCH", "users/{user_agent}", "manager", 403, {"role": "admin"}, note="promote to admin"),
    Case("PATCH", "users/{user_agent}", "manager", 403, {"sites": ["dakar"]}, note="move away"),
    Case("PATCH", "users/{user_manager}", "agent", 403, {"password": "taken over!"}),
    # The manager of Thiès must not change who works at Dakar.
    Case("PATCH", "users/{user_shared}", "manager", 403, {"sites": ["thies"]}, note="drop dakar"),
    # --- public routes ---
    *public("GET", "track/{code}", check=tracks_waiting),
    Case("GET", "track/NOSUCHCO", None, 404),
    *public(
        "POST",
        "auth/token",
        body={"email": "agent@thies.sn", "password": PASSWORD},
        check=token_given,
    ),
    # --- appointments and SMS settings (the booking itself: tests/test_booking.py) ---
    *public("GET", "sites/thies/services/CNI/slots?date=2026-12-01"),
    *public(
        "POST",
        "sites/thies/appointments",
        409,
        {"service": "CNI", "start": "2026-12-01T09:00:00Z", "phone": "+221771234567"},
    ),
    *public("GET", "appointments/NOSUCH", 404),
    *public("POST", "appointments/NOSUCH/cancel", 404),
    *endpoint(
        "POST",
        "appointments/NOSUCH/check-in",
        (),
        404,
        **{who: 404 for who in PRINCIPALS if who is not None},
    ),  # fmt: skip
    *endpoint("GET", "sites/thies/appointments", STAFF),
    *endpoint("GET", "sites/thies/sms-gateway", MANAGERS),
    *endpoint("PUT", "sites/thies/sms-gateway", MANAGERS, body={"gateway": "console"}),
    # --- quality: satisfaction, complaints, statistics, commitments, audit ---
    # Only the office's tablet rates on the counter (the called ticket is not served yet).
    *endpoint("POST", "tickets/{called}/feedback", ("tablet",), 422, {"rating": 5}),
    *endpoint("GET", "counters/{g1}/feedback-prompt", ("tablet",), 204),
    # The tracking page's rating is public; a waiting ticket cannot be rated yet.
    *public("POST", "track/{code}/feedback", 422, {"rating": 5}),
    *public("POST", "sites/thies/complaints", 201, {"text": "Le guichet 3 a fermé tôt."}),
    *endpoint("GET", "sites/thies/complaints", MANAGERS),
    *endpoint("GET", "complaints/{complaint}", MANAGERS),
    *endpoint("POST", "complaints/{complaint}/assign", MANAGERS, 200, {"user": None}),
    *endpoint(
        "POST",
        "complaints/{complaint}/answer",
        MANAGERS,
        200,
        {"answer": "Merci, c'est noté.", "send_sms": False},
    ),
    *endpoint("POST", "complaints/{complaint}/close", MANAGERS),
    *endpoint("POST", "complaints/{complaint}/reopen", MANAGERS, 422),
    *endpoint("GET", "sites/thies/stats", MANAGERS),
    *endpoint("GET", "stats", (*MANAGERS, "dk_manager")),
    *public("GET", "sites/thies/commitments"),
    *endpoint(
        "PUT",
        "sites/thies/commitments",
        MANAGERS,
        200,
        [{"kind": "wait", "threshold": 20, "target_pct": 80}],
    ),
    *endpoint("GET", "sites/thies/audit", MANAGERS),
    Case("GET", "/api/v1/openapi.json", None, 200, check=openapi),
    Case("GET", "/api/v1/docs", None, 200, check=docs_page),
    Case("GET", "/healthz", None, 200),
    Case("GET", "/readyz", None, 200),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_role_matrix(world: World, case: Case) -> None:
    world.restore()
    path = case.path.format(**world.ids)
    body = case.body
    before = world.snapshot() if case.status >= 400 else None
    if case.method != "GET":
        world.dirty = True
    response = world.call(case.method, path, case.who, body)
    assert response.status_code == case.status, response.get_json(silent=True)
    if case.status in ERROR_CODES:
        assert response.get_json()["error"]["code"] == ERROR_CODES[case.status]
    if case.status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if before is not None:
        assert world.snapshot() == before, "a refused request changed the database"
    if case.check is not None:
        case.check(world, response, case.who)


# --- the table covers every route ---------------------------------------------------


def test_every_api_route_is_in_the_matrix(world: World) -> None:
    """A new route must get its rows above (who may call it, who may not)."""
    adapter = world.app.url_map.bind("localhost")
    covered: dict[tuple[str, str], set[str | None]] = {}
    for case in CASES:
        path = case.path.format(**world.ids)
        url = path if path.startswith("/") else f"/api/v1/{path}"
        endpoint_name, _ = adapter.match(url.split("?")[0], method=case.method)
        covered.setdefault((endpoint_name, case.method), set()).add(case.who)
    routes = {
        (rule.endpoint, method)
        for rule in world.app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    missing = routes - set(covered)
    assert not missing, f"routes without role cases: {sorted(missing)}"
    public_routes = {
        "api_tickets.track",
        "api_auth.TokenView",
        "api-docs.openapi_json",
        "api_docs_page.docs_page",
    }
    for (name, method), whos in covered.items():
        if name not in public_routes and (name, method) in routes:
            assert set(PRINCIPALS) <= whos, f"{method} {name}: not every principal is tried"


# --- anonymous callers learn nothing ----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "sites/nowhere"),
        ("PATCH", "sites/nowhere"),
        ("GET", "sites/nowhere/services"),
        ("GET", "sites/nowhere/services/CNI"),
        ("GET", "sites/nowhere/counters"),
        ("GET", "sites/nowhere/devices"),
        ("GET", "sites/nowhere/board"),
        ("POST", "sites/nowhere/tickets"),
        ("POST", "sites/thies/tickets"),
        ("GET", "tickets/999999"),
        ("POST", "tickets/999999/cancel"),
        ("GET", "counters/999999"),
        ("POST", "counters/999999/open"),
        ("GET", "users/999999"),
    ],
)
def test_anonymous_callers_get_401_even_for_unknown_ids(
    world: World, method: str, path: str
) -> None:
    """No credentials, no answer: not even whether a site, ticket or counter exists."""
    world.restore()
    if method != "GET":
        world.dirty = True
    body = {"PATCH": {"name": "x"}, "POST": {"service": "CNI"}}.get(method)
    if method == "POST" and not path.endswith("/tickets"):
        body = None
    response = world.call(method, path, None, body)
    assert response.status_code == 401, response.get_json()
    assert response.get_json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "token",
    [
        "gu_not-a-token",
        "gd_not-a-token",
        "xyz",
    ],
)
def test_unknown_tokens_are_anonymous(world: World, token: str) -> None:
    world.restore()
    assert world.call("GET", "sites/thies", token).status_code == 401
    assert world.call("GET", f"track/{world.ids['code']}", token).status_code == 200
