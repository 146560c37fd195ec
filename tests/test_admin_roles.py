"""Who reaches which administration page: every page of /admin against every kind of user.

Two offices, Thiès and Dakar. An admin reaches everything; the manager of Thiès
reaches the pages common to managers and Thiès's pages, not Dakar's, and not
the admin-only ones (creating an office); an agent gets 403; an anonymous
visitor is sent to the sign-in page. A refused form post changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from queue_app import create_app
from queue_app.extensions import db
from queue_app.models import AuditEntry, Complaint, ComplaintKind, Device, Service
from queue_app.quality.complaints import submit_complaint
from queue_app.queue.sites import get_site

from .conftest import Office, base_config, build_office, dispose
from .quality_helpers import csrf_of, sign_in

WHO = ("admin", "manager", "other_manager", "agent", None)


@dataclass
class World:
    app: Flask
    thies: Office
    dakar: Office
    complaint: str
    dakar_complaint: str
    thies_kiosk: int


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[World]:
    import shutil

    folder = tmp_path_factory.mktemp("admin-roles")
    db_path = folder / "guichet.db"
    shutil.copy(sqlite_template, db_path)
    app = create_app(base_config(folder, f"sqlite:///{db_path}"))
    thies, dakar = build_office(app), build_office(app, slug="dakar")
    with app.app_context():
        references = []
        for slug in ("thies", "dakar"):
            complaint = submit_complaint(
                db.session,
                get_site(db.session, slug),
                kind=ComplaintKind.COMPLAINT,
                text="Le guichet a fermé sans prévenir ce matin.",
                answer_days=15,
                phone="+221771234567",
            )
            references.append(complaint.reference)
        db.session.commit()
        kiosk = db.session.scalar(
            select(Device.id).where(Device.site_id == thies.site.id, Device.kind == "kiosk")
        )
    yield World(app, thies, dakar, references[0], references[1], kiosk)
    dispose(app)


def client_for(world: World, who: str | None) -> Any:
    client = world.app.test_client()
    if who == "other_manager":
        sign_in(client, world.dakar.users["manager"].email)
    elif who is not None:
        sign_in(client, world.thies.users[who].email)
    return client


def thies_pages(world: World) -> list[str]:
    office = world.thies
    return [
        "/admin/sites/thies",
        "/admin/sites/thies/hours",
        "/admin/sites/thies/services",
        "/admin/sites/thies/services/new",
        "/admin/sites/thies/services/CNI",
        "/admin/sites/thies/counters",
        "/admin/sites/thies/counters/new",
        f"/admin/sites/thies/counters/{office.counters['g1'].id}",
        "/admin/sites/thies/devices",
        f"/admin/sites/thies/devices/{world.thies_kiosk}",
        "/admin/sites/thies/appointments",
        "/admin/sites/thies/sms",
        "/admin/sites/thies/voices",
        "/admin/sites/thies/commitments",
        "/admin/?site=thies",
        "/admin/export.csv?site=thies",
        f"/admin/complaints/{world.complaint}",
        f"/admin/users/{office.users['agent'].id}",
    ]


COMMON = [
    "/admin/",
    "/admin/sites",
    "/admin/users",
    "/admin/users/new",
    "/admin/complaints",
    "/admin/audit",
]
ADMIN_ONLY = ["/admin/sites/new"]


def expected(who: str | None, page: str, world: World) -> int:
    if who is None:
        return 302
    if who == "agent":
        return 403
    if who == "admin":
        return 200
    if page in ADMIN_ONLY:
        return 403
    if page in COMMON:
        return 200
    if who == "manager":
        return 200
    # The manager of Dakar: Thiès's users are not even listed for them.
    return 404 if page.startswith("/admin/users/") else 403


@pytest.mark.parametrize("who", WHO)
def test_every_admin_page_answers_each_role(world, who):
    client = client_for(world, who)
    for page in COMMON + ADMIN_ONLY + thies_pages(world):
        response = client.get(page)
        assert response.status_code == expected(who, page, world), (who, page)
        if who is None:
            assert "/login" in response.headers["Location"]
        if response.status_code == 200 and page.endswith(".csv"):
            assert response.mimetype == "text/csv"


def test_a_manager_sees_only_their_offices_in_lists(world):
    client = client_for(world, "manager")
    sites = client.get("/admin/sites").get_data(as_text=True)
    assert "Espace Sénégal Services thies" in sites
    assert "Espace Sénégal Services dakar" not in sites
    complaints = client.get("/admin/complaints?status=all").get_data(as_text=True)
    assert world.complaint in complaints
    assert world.dakar_complaint not in complaints
    users = client.get("/admin/users").get_data(as_text=True)
    assert "agent@thies.sn" in users
    assert "agent@dakar.sn" not in users
    assert "admin-thies@example.sn" not in users
    # Asking for Dakar's dashboard is refused, not silently replaced.
    assert client.get("/admin/?site=dakar").status_code == 403
    assert client.get(f"/admin/complaints/{world.dakar_complaint}").status_code == 403


def _service_target(world: World) -> int:
    with world.app.app_context():
        return db.session.scalar(
            select(Service.target_wait_minutes).where(
                Service.site_id == world.thies.site.id, Service.code == "CNI"
            )
        )


@pytest.mark.parametrize("who", ["other_manager", "agent", None])
def test_a_refused_post_changes_nothing(world, who):
    # A form token from a page this user may open (their own dashboard, or the sign-in page).
    client = client_for(world, who)
    html = client.get("/login" if who is None else "/agent/").get_data(as_text=True)
    token = csrf_of(html) if "csrf_token" in html else ""
    before = _service_target(world)
    with world.app.app_context():
        entries = db.session.query(AuditEntry).count()
    posts = [
        ("/admin/sites/thies/services/CNI", {"target_wait_minutes": "99", "prefix": "B"}),
        ("/admin/sites/thies/devices", {"kind": "kiosk", "name": "Intrus"}),
        ("/admin/sites/thies/display-message", {"message": "Intrus"}),
        (f"/admin/sites/thies/devices/{world.thies_kiosk}", {"name": "Intrus"}),
        ("/admin/sites/thies/sms", {"gateway": "console"}),
        ("/admin/sites/thies/voices", {"language": "fr", "key": "chime"}),
        (f"/admin/complaints/{world.complaint}/close", {}),
        ("/admin/sites/new", {"slug": "x", "name": "X", "timezone": "UTC"}),
    ]
    for url, data in posts:
        response = client.post(url, data={"csrf_token": token, **data})
        assert response.status_code in (302, 403), (who, url, response.status_code)
        if who is None:
            assert "/login" in response.headers["Location"]
    assert _service_target(world) == before
    with world.app.app_context():
        assert db.session.query(AuditEntry).count() == entries
        assert (
            db.session.scalar(
                select(Complaint.status).where(Complaint.reference == world.complaint)
            ).value
            == "open"
        )


def test_a_post_without_its_form_token_is_refused_and_changes_nothing(world):
    client = client_for(world, "manager")
    before = _service_target(world)
    response = client.post(
        "/admin/sites/thies/services/CNI", data={"target_wait_minutes": "99", "prefix": "B"}
    )
    assert response.status_code == 302  # back to the page, with a message
    assert _service_target(world) == before
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "La page avait expiré" in page
