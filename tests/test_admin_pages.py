"""Setting up a second office through the administration pages, and reading it the next morning.

The admin creates the office and gives it to the manager of Thiès; the manager
sets everything else up from the pages alone (opening hours, a holiday,
services, a counter, a kiosk and a tablet with their pairing codes, an agent,
the published commitments). The day runs through the API; the next morning the
manager reads waiting times, satisfaction and open complaints of both offices
on the dashboard, and every change is in the change log with its author.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime

import time_machine
from sqlalchemy import select

from queue_app.extensions import db
from queue_app.models import AuditEntry, Counter, Device, Service, Site, User

from .conftest import Api
from .quality_helpers import csrf_of, post_form, sign_in

# Monday 7 December 2026, 07:00 in Kaolack (UTC+0).
MONDAY = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
TOKEN_RE = re.compile(r'id="token">(gd_[^<]+)<')


def _flash(client, response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))


def _site(app, slug):
    with app.app_context():
        site = db.session.scalar(select(Site).where(Site.slug == slug))
        db.session.expunge(site)
        return site


def test_a_manager_sets_up_a_second_office_and_reads_it_the_next_morning(app, office):
    with time_machine.travel(MONDAY, tick=False):
        _set_up(app, office)


def _set_up(app, office):  # noqa: PLR0915 (one story, told in order)
    admin = app.test_client()
    sign_in(admin, office.users["admin"].email)
    page = _flash(
        admin,
        post_form(
            admin,
            "/admin/sites/new",
            {
                "name": "Espace Sénégal Services — Kaolack",
                "slug": "kaolack",
                "timezone": "Africa/Dakar",
                "default_language": "fr",
                "languages": ["en", "wo"],
            },
        ),
    )
    assert "Structure créée" in page
    manager = office.users["manager"]
    response = post_form(
        admin,
        f"/admin/users/{manager.id}",
        {
            "full_name": "Ibrahima Fall",
            "role": "manager",
            "sites": ["thies", "kaolack"],
            "locale": "",
            "is_active": "y",
        },
    )
    assert "Modifications enregistrées" in _flash(admin, response)

    # From here on, the manager alone.
    client = app.test_client()
    sign_in(client, manager.email)
    hours = {f"{day}_0_start": "08:00" for day in ("monday", "tuesday", "wednesday")}
    hours |= {f"{day}_0_end": "12:30" for day in ("monday", "tuesday", "wednesday")}
    hours |= {"monday_1_start": "14:00", "monday_1_end": "17:00"}
    assert "Horaires enregistrés" in _flash(
        client, post_form(client, "/admin/sites/kaolack/hours", hours)
    )
    closure = post_form(
        client,
        "/admin/sites/kaolack/hours",
        {"day": "2026-12-25"},
        action="/admin/sites/kaolack/closures",
    )
    assert "25 décembre 2026" in _flash(client, closure)
    site = _site(app, "kaolack")
    assert site.hours["monday"] == [["08:00", "12:30"], ["14:00", "17:00"]]
    assert site.hours["wednesday"] == [["08:00", "12:30"]]
    assert "thursday" not in site.hours
    assert site.languages == ["fr", "en", "wo"]

    # A bad ticket letter is explained next to its field; nothing is created.
    bad = post_form(
        client,
        "/admin/sites/kaolack/services/new",
        {
            "code": "cni",
            "name_fr": "Carte d'identité",
            "prefix": "B7",
            "target_wait_minutes": "25",
            "avg_service_minutes": "8",
            "position": "0",
            "is_active": "y",
            "priority_rule": "first",
        },
    )
    assert bad.status_code == 400
    assert "Valeur invalide pour prefix" in bad.get_data(as_text=True)
    for code, name_fr, name_wo, prefix, rule in (
        ("CNI", "Carte nationale d'identité", "Kartu idantite", "B", "first"),
        ("CASIER", "Casier judiciaire", "", "A", "none"),
    ):
        created = post_form(
            client,
            "/admin/sites/kaolack/services/new",
            {
                "code": code.lower(),
                "name_fr": name_fr,
                "name_en": "",
                "name_wo": name_wo,
                "prefix": prefix,
                "target_wait_minutes": "25",
                "avg_service_minutes": "7.5",
                "position": "0",
                "is_active": "y",
                "priority_rule": rule,
            },
        )
        assert f"Service {name_fr} créé" in _flash(client, created)
    with app.app_context():
        services = {
            s.code: s for s in db.session.scalars(select(Service).where(Service.site_id == site.id))
        }
        assert services["CNI"].names == {"fr": "Carte nationale d'identité", "wo": "Kartu idantite"}
        assert services["CNI"].avg_service_seconds == 450
        assert services["CASIER"].priority_rule.value == "none"
        cni_id, casier_id = services["CNI"].id, services["CASIER"].id

    counter_page = post_form(
        client,
        "/admin/sites/kaolack/counters/new",
        {
            "name": "Guichet 1",
            f"serves_{cni_id}": "y",
            f"weight_{cni_id}": "2",
            f"serves_{casier_id}": "y",
            f"weight_{casier_id}": "1",
        },
    )
    assert "Guichet 1 créé" in _flash(client, counter_page)
    with app.app_context():
        counter = db.session.scalar(select(Counter).where(Counter.site_id == site.id))
        assert {link.service.code: link.weight for link in counter.service_links} == {
            "CNI": 2,
            "CASIER": 1,
        }
        counter_id = counter.id

    # Devices: the token and a QR code of the pairing address, shown once.
    kiosk_page = post_form(
        client, "/admin/sites/kaolack/devices", {"kind": "kiosk", "name": "Borne", "counter": ""}
    )
    kiosk_html = kiosk_page.get_data(as_text=True)
    assert kiosk_page.headers["Cache-Control"] == "no-store"
    kiosk_token = TOKEN_RE.search(kiosk_html).group(1)
    assert f"/kiosk/kaolack?token={kiosk_token}" in kiosk_html
    assert 'src="data:image/svg+xml' in kiosk_html
    tablet_page = post_form(
        client,
        "/admin/sites/kaolack/devices",
        {"kind": "tablet", "name": "Tablette G1", "counter": str(counter_id)},
    )
    tablet_token = TOKEN_RE.search(tablet_page.get_data(as_text=True)).group(1)
    assert f"/feedback/{counter_id}?token={tablet_token}" in tablet_page.get_data(as_text=True)
    listing = client.get("/admin/sites/kaolack/devices").get_data(as_text=True)
    assert "Borne" in listing
    assert kiosk_token not in listing
    assert tablet_token not in listing

    agent_page = post_form(
        client,
        "/admin/users/new",
        {
            "email": "Awa.Ndiaye@Kaolack.sn",
            "full_name": "Awa Ndiaye",
            "password": "kaolack-2026",
            "role": "agent",
            "sites": ["kaolack"],
            "locale": "",
            "is_active": "y",
        },
    )
    assert "awa.ndiaye@kaolack.sn peut maintenant se connecter" in _flash(client, agent_page)
    # A manager cannot make an admin, even by forging the form.
    forged = post_form(
        client,
        "/admin/users/new",
        {
            "email": "boss@kaolack.sn",
            "password": "kaolack-2026",
            "role": "admin",
            "sites": ["kaolack"],
            "is_active": "y",
        },
    )
    assert forged.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "boss@kaolack.sn")) is None

    published = post_form(
        client,
        "/admin/sites/kaolack/commitments",
        {
            "row_0-kind": "wait",
            "row_0-target_pct": "80",
            "row_0-threshold": "20",
            "row_0-service": "",
            "row_1-kind": "satisfaction",
            "row_1-target_pct": "85",
            "row_1-threshold": "4",
        },
    )
    assert "Engagements publiés" in _flash(client, published)
    public = app.test_client().get("/sites/kaolack/commitments").get_data(as_text=True)
    assert "80 % des usagers reçus en moins de 20 minutes" in public
    assert "85 % des usagers satisfaits (note de 4 sur 5 ou plus)" in public

    # The day: a kiosk issues, the agent serves, the tablet collects a rating,
    # a citizen files a complaint on the public form.
    api = Api(app)
    agent = Api(app)
    token = agent.client.post(
        "/api/v1/auth/token", json={"email": "awa.ndiaye@kaolack.sn", "password": "kaolack-2026"}
    ).get_json()["token"]
    with time_machine.travel(MONDAY.replace(hour=8), tick=False):
        tickets = [
            api.post("sites/kaolack/tickets", kiosk_token, json={"service": "CNI"}).get_json()
            for _ in range(3)
        ]
        assert [t["label"] for t in tickets] == ["B-001", "B-002", "B-003"]
        assert agent.post(f"counters/{counter_id}/open", token).status_code == 200
    for minute, ticket in zip((10, 25, 40), tickets, strict=True):
        with time_machine.travel(MONDAY.replace(hour=8, minute=minute), tick=False):
            called = agent.post(f"counters/{counter_id}/call-next", token).get_json()
            assert called["label"] == ticket["label"]
        with time_machine.travel(MONDAY.replace(hour=8, minute=minute + 12), tick=False):
            assert agent.post(f"tickets/{ticket['id']}/finish", token).status_code == 200
            rated = api.post(
                f"tickets/{ticket['id']}/feedback",
                tablet_token,
                json={"rating": 5 if minute < 40 else 2},
            )
            assert rated.status_code == 201, rated.get_json()
    with time_machine.travel(MONDAY.replace(hour=11), tick=False):
        public_client = app.test_client()
        filed = post_form(
            public_client,
            "/sites/kaolack/complaints",
            {"kind": "complaint", "text": "Trop d'attente ce matin au guichet 1.", "phone": ""},
        )
        assert filed.status_code == 200
        assert "Votre référence" in filed.get_data(as_text=True)

    # The next morning, both offices on one dashboard.
    with time_machine.travel(datetime(2026, 12, 8, 7, 30, tzinfo=UTC), tick=False):
        client = app.test_client()
        sign_in(client, manager.email)
        board = client.get("/admin/?site=all&from=2026-12-07&to=2026-12-07")
        board_html = board.get_data(as_text=True)
        assert board.status_code == 200
        assert "Espace Sénégal Services — Kaolack" in board_html
        assert "Espace Sénégal Services thies" in board_html
        assert "1 réclamation ouverte" in board_html
        found = re.search(r'id="dashboard-data">(.*?)</script>', board_html)
        charts = json.loads(found.group(1))
        assert charts["ratings"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 2}
        one = client.get("/admin/?site=kaolack&from=2026-12-07&to=2026-12-07").get_data(
            as_text=True
        )
        # Waits 10, 25 and 40 minutes: mean 25, two of three within the 25-minute target.
        assert "25 min" in one
        assert "67" in one
        assert "Awa Ndiaye" in one
        csv_export = client.get("/admin/export.csv?site=kaolack&from=2026-12-07&to=2026-12-07")
        assert csv_export.mimetype == "text/csv"
        assert "total,kaolack" in csv_export.get_data(as_text=True)
        log = client.get("/admin/audit?site=kaolack").get_data(as_text=True)
        assert manager.email in log
        assert "horaires d&#39;ouverture" in log

    # Every change is in the change log, by its author; no secret in it.
    with app.app_context():
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.site_id == site.id).order_by(AuditEntry.id)
        ).all()
        by_type = {(e.object_type, e.action) for e in entries}
        assert {
            ("site", "create"),
            ("site", "update"),
            ("service", "create"),
            ("counter", "create"),
            ("device", "create"),
            ("user", "create"),
            ("commitment", "create"),
        } <= by_type
        assert {e.actor for e in entries if e.object_type != "site" or e.action != "create"} >= {
            manager.email
        }
        creation = next(e for e in entries if e.object_type == "site" and e.action == "create")
        assert creation.actor == office.users["admin"].email
        dumped = json.dumps([e.changes for e in entries])
        assert kiosk_token not in dumped
        assert "kaolack-2026" not in dumped
        assert "password_hash" not in dumped


def test_rotating_and_revoking_a_device_from_the_pages(app, office):
    client = app.test_client()
    sign_in(client, office.users["manager"].email)
    with app.app_context():
        device_id = db.session.scalar(
            select(Device.id).where(Device.site_id == office.site.id, Device.kind == "kiosk")
        )
    old = office.tokens["kiosk"]
    api = Api(app, office)
    assert api.get("sites/thies/services", old).status_code == 200
    page = client.get("/admin/sites/thies/devices").get_data(as_text=True)
    rotated = client.post(
        f"/admin/sites/thies/devices/{device_id}/rotate", data={"csrf_token": csrf_of(page)}
    )
    new = TOKEN_RE.search(rotated.get_data(as_text=True)).group(1)
    assert new != old
    assert api.get("sites/thies/services", old).status_code == 401
    assert api.get("sites/thies/services", new).status_code == 200
    revoked = client.post(
        f"/admin/sites/thies/devices/{device_id}/revoke", data={"csrf_token": csrf_of(page)}
    )
    assert revoked.status_code == 302
    assert api.get("sites/thies/services", new).status_code == 401
    assert "Révoqué" in client.get("/admin/sites/thies/devices").get_data(as_text=True)


def test_pages_are_in_english_on_request(app, office):
    client = app.test_client()
    sign_in(client, office.users["manager"].email)
    client.get("/lang/en")
    html = client.get("/admin/").get_data(as_text=True)
    assert "Dashboard" in html
    assert "Citizens received" in html
    assert "Tableau de bord" not in html


def test_a_wrong_range_on_the_dashboard_is_explained(app, office):
    client = app.test_client()
    sign_in(client, office.users["manager"].email)
    html = client.get("/admin/?from=2026-12-09&to=2026-12-01").get_data(as_text=True)
    assert "Valeur invalide pour to" in html
    assert 'aria-current="true">7 jours' in html  # the default range instead
