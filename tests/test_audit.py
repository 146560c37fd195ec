"""The change log: configuration changes from the API, the pages and the command line,
with who and when, before and after — never a password or a token, never the day's work."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from queue_app.extensions import db
from queue_app.models import AuditEntry, Service
from queue_app.quality import audit
from queue_app.queue.errors import Conflict
from queue_app.queue.sites import get_service, get_site, update_service

from .conftest import build_office
from .quality_helpers import sign_in


def entries(app, **where):
    with app.app_context():
        statement = select(AuditEntry).order_by(AuditEntry.id)
        for key, value in where.items():
            statement = statement.where(getattr(AuditEntry, key) == value)
        return [
            (e.actor, e.action, e.object_type, e.object_label, e.changes, e.site_id)
            for e in db.session.scalars(statement)
        ]


@pytest.fixture
def fresh(app, office):
    """The office's own creation is in the log too; start counting after it."""
    with app.app_context():
        return db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))


def since(app, last_id):
    """The entries written after the one with id ``last_id``."""
    with app.app_context():
        ids = db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)).all()
    return [e for e, entry_id in zip(entries(app), ids, strict=True) if entry_id > last_id]


def test_api_changes_are_recorded_with_their_author(app, api, office, fresh):
    api.patch("sites/thies/services/CNI", "manager", json={"target_wait_minutes": 25})
    api.put("sites/thies/hours", "manager", json={"monday": [["08:00", "12:00"]]})
    api.patch(
        f"sites/thies/counters/{office.counters['g1'].id}", "manager", json={"weights": {"CNI": 3}}
    )
    log = since(app, fresh)
    assert log[0][:4] == ("manager@thies.sn", "update", "service", "CNI")
    assert log[0][4] == {"target_wait_minutes": [20, 25]}
    assert log[0][5] == office.site.id
    assert log[1][2:4] == ("site", "Espace Sénégal Services thies")
    assert log[1][4] == {"hours": [None, {"monday": [["08:00", "12:00"]]}]}
    assert log[2][4] == {"services": [["CASIER×1", "CNI×1"], ["CASIER×1", "CNI×3"]]}


def test_secrets_are_recorded_as_changed_only(app, api, office, fresh):
    created = api.post("sites/thies/devices", "manager", json={"kind": "tablet", "name": "T2"})
    token = created.get_json()["token"]
    rotated = api.post(f"sites/thies/devices/{created.get_json()['id']}/rotate-token", "manager")
    api.patch(f"users/{office.users['agent'].id}", "manager", json={"password": "nouveau-secret"})
    log = since(app, fresh)
    dumped = json.dumps([e[4] for e in log])
    assert token not in dumped
    assert rotated.get_json()["token"] not in dumped
    assert "nouveau-secret" not in dumped
    assert "pbkdf2" not in dumped
    assert "scrypt" not in dumped
    assert log[1][4] == {"token": "changed"}
    assert log[2][4] == {"password": "changed"}


def test_the_days_work_is_not_configuration(app, api, office, fresh):
    api.open_counter("g1")
    ticket = api.issue("CNI")
    api.call_next("g1")
    api.post(f"tickets/{ticket['id']}/finish", "agent")  # moves the learned average
    api.post(f"counters/{office.counters['g1'].id}/pause", "agent", json={"reason": "lunch"})
    assert since(app, fresh) == []


def test_a_refused_change_leaves_no_entry(app, office, fresh):
    with app.app_context():
        site = get_site(db.session, "thies")
        service = get_service(db.session, site, "CNI")
        with pytest.raises(Conflict):
            update_service(db.session, service, {"target_wait_minutes": 40, "prefix": "A"})
        db.session.rollback()
    assert since(app, fresh) == []


def test_the_command_line_and_jobs_are_named(app, office, fresh):
    with app.app_context():
        audit.set_actor(db.session, "cli:create-user")
        site = get_site(db.session, "thies")
        service = db.session.scalar(select(Service).where(Service.site_id == site.id))
        update_service(db.session, service, {"position": 9})
        db.session.commit()
        audit.set_actor(db.session, None)
    assert since(app, fresh)[0][0] == "cli:create-user"


def test_a_manager_reads_the_log_of_their_offices_only(app, api, office, fresh):
    dakar = build_office(app, slug="dakar")
    api.patch("sites/thies/services/CNI", "manager", json={"target_wait_minutes": 33})
    client = app.test_client()
    sign_in(client, dakar.users["manager"].email)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "manager@thies.sn" not in page
    assert "Espace Sénégal Services thies" not in page
    mine = app.test_client()
    sign_in(mine, office.users["manager"].email)
    html = mine.get("/admin/audit").get_data(as_text=True)
    assert "manager@thies.sn" in html
    assert "attente visée" in html
    assert api.get("sites/thies/audit", "manager").get_json()[0]["changes"] == {
        "target_wait_minutes": [20, 33]
    }
    assert api.get("sites/thies/audit", "agent").status_code == 403
