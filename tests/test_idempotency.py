"""Idempotency keys: a retried create gives the same resource.

A key is scoped to the device or user that sends it, holds for the site's
service day only, and the same key with another body is refused (422) rather
than replayed. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from queue_app.extensions import db
from queue_app.jobs import idempotency as idempotency_job
from queue_app.jobs.scheduler import JOBS, run_job
from queue_app.models import (
    DeviceKind,
    EventKind,
    IdempotencyKey,
    Service,
    Site,
    Ticket,
    TicketEvent,
    TicketSequence,
    TicketSource,
)
from queue_app.queue import SYSTEM, errors, idempotency, issue_ticket
from queue_app.queue.accounts import create_device

from .conftest import Api, Office, build_office, count_statements

SECRET = b"the application secret"

WAIT = 30.0


@pytest.fixture
def office(any_app) -> Office:
    return build_office(any_app)


@pytest.fixture
def api(any_app, office) -> Api:
    return Api(any_app, office)


def post_ticket(api: Api, office: Office, as_: str = "kiosk", key: str = "k-0001", **body: Any):
    body.setdefault("service", "CNI")
    headers = {"Idempotency-Key": key} if key else {}
    return api.post(f"sites/{office.slug}/tickets", as_, json=body, headers=headers)


def ticket_count(application) -> int:
    with application.app_context():
        return db.session.scalar(select(func.count()).select_from(Ticket))


# --- what a kiosk sees -------------------------------------------------------------------


def test_a_retried_request_gets_the_same_ticket_marked_replayed(api, office):
    first = post_ticket(api, office)
    again = post_ticket(api, office)
    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["label"] == "B-001"
    # The replay took no number.
    assert api.issue("CNI")["number"] == 2


def test_the_same_key_from_another_device_or_user_issues_another_ticket(any_app, api, office):
    with any_app.app_context():
        site = db.session.get(Site, office.site.id)
        _, second_kiosk = create_device(db.session, site, DeviceKind.KIOSK, "kiosk 2")
        db.session.commit()
    first = post_ticket(api, office, "kiosk")
    other_kiosk = post_ticket(api, office, second_kiosk)
    staff = post_ticket(api, office, "agent")
    for response in (other_kiosk, staff):
        assert response.status_code == 201, response.get_json()
        assert "Idempotent-Replayed" not in response.headers
    assert [r.get_json()["number"] for r in (first, other_kiosk, staff)] == [1, 2, 3]
    # Each sender keeps its own: the second kiosk's retry replays its own ticket.
    retry = post_ticket(api, office, second_kiosk)
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_json()["id"] == other_kiosk.get_json()["id"]


def test_a_key_holds_for_the_service_day_only(any_app):
    """Porto-Novo is UTC+1: the key ends at the site's midnight, not at UTC's."""
    porto = build_office(any_app, slug="porto", timezone="Africa/Porto-Novo")
    api = Api(any_app, porto)
    evening = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)  # Monday 23:30 in Porto-Novo
    with time_machine.travel(evening, tick=False):
        first = post_ticket(api, porto)
    with time_machine.travel(evening + timedelta(minutes=29), tick=False):
        before_midnight = post_ticket(api, porto)
    with time_machine.travel(evening + timedelta(minutes=31), tick=False):  # Tuesday 00:01
        next_day = post_ticket(api, porto)
    assert before_midnight.get_json()["id"] == first.get_json()["id"]
    assert next_day.status_code == 201, next_day.get_json()
    assert "Idempotent-Replayed" not in next_day.headers
    assert next_day.get_json()["id"] != first.get_json()["id"]
    assert next_day.get_json()["label"] == "B-001"


@pytest.mark.parametrize(
    "changed",
    [{"service": "CASIER"}, {"priority": True}, {"phone": "77 123 45 67"}],
    ids=["service", "priority", "phone"],
)
def test_the_same_key_with_another_body_is_refused(any_app, api, office, changed):
    first = post_ticket(api, office)
    other = post_ticket(api, office, **changed)
    assert other.status_code == 422
    assert other.get_json()["error"]["code"] == "idempotency_key_mismatch"
    assert ticket_count(any_app) == 1
    # The first request still replays.
    assert post_ticket(api, office).get_json()["id"] == first.get_json()["id"]


def test_a_phone_written_another_way_is_the_same_request(api, office):
    first = post_ticket(api, office, phone="77 123 45 67")
    again = post_ticket(api, office, phone="+221771234567")
    assert again.status_code == 201, again.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]


def test_a_replay_still_answers_after_the_service_is_withdrawn(any_app, api, office):
    first = post_ticket(api, office)
    with any_app.app_context():
        db.session.get(Service, office.services["CNI"].id).is_active = False
        db.session.commit()
    again = post_ticket(api, office)
    assert again.status_code == 201
    assert again.get_json()["id"] == first.get_json()["id"]
    assert post_ticket(api, office, key="k-0002").get_json()["error"]["code"] == (
        "service_inactive"
    )


@pytest.mark.slow
def test_concurrent_retries_make_one_ticket_per_key(any_app, office):
    """Sixteen requests at once, four keys sent four times each: four tickets, numbers 1-4."""
    token = office.tokens["kiosk"]
    keys = [f"burst-{n}" for n in range(4)] * 4
    barrier = threading.Barrier(len(keys))

    def kiosk(key: str) -> tuple[str, Any]:
        client = any_app.test_client()
        barrier.wait(timeout=WAIT)
        response = client.post(
            f"/api/v1/sites/{office.slug}/tickets",
            json={"service": "CNI"},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
        )
        return key, response

    with ThreadPoolExecutor(len(keys)) as pool:
        results = list(pool.map(kiosk, keys))
    by_key: dict[str, list[Any]] = defaultdict(list)
    for key, response in results:
        assert response.status_code == 201, response.get_json()
        by_key[key].append(response)
    for responses in by_key.values():
        assert len({r.get_json()["id"] for r in responses}) == 1
        assert sum("Idempotent-Replayed" not in r.headers for r in responses) == 1
    numbers = sorted(responses[0].get_json()["number"] for responses in by_key.values())
    assert numbers == [1, 2, 3, 4]
    with any_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == 4
        issued = select(func.count()).where(TicketEvent.kind == EventKind.ISSUED)
        assert db.session.scalar(issued) == 4
        # No number was taken by the requests that replayed.
        assert db.session.scalar(select(TicketSequence.last_number)) == 4
        assert db.session.scalar(select(func.count()).select_from(IdempotencyKey)) == 4


# --- the cost on the hot path ------------------------------------------------------------


def test_a_key_costs_one_statement_and_no_key_none(any_app, office):
    with any_app.app_context():
        site = db.session.get(Site, office.site.id)
        service = db.session.get(Service, office.services["CNI"].id)
        db.session.commit()

        def issue(key: str | None) -> list[str]:
            with count_statements(any_app) as statements:
                issue_ticket(
                    db.session,
                    site,
                    service,
                    actor=SYSTEM,
                    source=TicketSource.KIOSK,
                    idempotency_key=None if key is None else idempotency.Key(key, b"s"),
                )
            db.session.commit()
            return statements

        issue(None)  # the learned service times, read once and kept (service_times.py)
        plain = issue(None)
        keyed = issue("k-1")
        replayed = issue("k-1")
    # The same statements on both databases: the number, the ticket, the people
    # ahead (read after the number was taken), the event.
    assert len(plain) == 4, plain
    assert len(keyed) == len(plain) + 1, keyed
    # A replay: the claim, the key's row, the ticket, its position.
    assert len(replayed) <= 4, replayed


# --- the helper, for every create a device may retry ------------------------------------


def test_the_helper_claims_replays_refuses_and_frees_keys(any_app, office):
    """As inbound SMS message ids or appointment bookings will use it."""
    now = datetime.now(UTC)
    until = now + timedelta(hours=1)
    with any_app.app_context():
        body = idempotency.fingerprint(SECRET, sender="+221771234567", text="RDV CNI")
        session = db.session
        first = idempotency.claim(
            session, "sms:twilio", "SM123", body, "sms_inbound", expires_at=until, now=now
        )
        assert not first.replayed
        assert first.resource_ref is None
        idempotency.remember(session, first, "42")
        session.commit()

        again = idempotency.claim(
            session, "sms:twilio", "SM123", body, "sms_inbound", expires_at=until, now=now
        )
        assert again.replayed
        assert again.resource_ref == "42"
        other_body = idempotency.fingerprint(SECRET, sender="+221771234567", text="ANNULER")
        with pytest.raises(errors.IdempotencyKeyMismatch):
            idempotency.claim(
                session, "sms:twilio", "SM123", other_body, "sms_inbound", expires_at=until, now=now
            )
        with pytest.raises(errors.IdempotencyKeyMismatch):
            idempotency.claim(
                session, "sms:twilio", "SM123", body, "appointment", expires_at=until, now=now
            )
        # Another scope is another key.
        elsewhere = idempotency.claim(
            session, "sms:orange", "SM123", body, "sms_inbound", expires_at=until, now=now
        )
        assert not elsewhere.replayed
        session.commit()
        # Past its expiry the key is free again, whatever it was used for.
        revived = idempotency.claim(
            session,
            "sms:twilio",
            "SM123",
            other_body,
            "sms_inbound",
            expires_at=until + timedelta(days=1),
            now=until,
        )
        assert not revived.replayed
        session.commit()


def test_the_fingerprint_is_stable_and_tells_bodies_apart(app):
    def digest(**fields: object) -> str:
        return idempotency.fingerprint(SECRET, **fields)

    with app.app_context():
        assert digest(a=1, b="x") == digest(b="x", a=1)
        assert digest(a=1, b="x") != digest(a=1, b="y")
        assert digest(phone=None) != digest(phone="")
        assert len(digest(a=1)) == 64
        # Not a plain hash of the request: a phone number cannot be found by trying them all.
        canonical = '{"phone":"+221771234567"}'
        plain = hashlib.sha256(canonical.encode()).hexdigest()
        assert idempotency.fingerprint(SECRET, phone="+221771234567") != plain
        # Keyed with the secret given: another application's digests differ.
        assert idempotency.fingerprint(SECRET, a=1) != idempotency.fingerprint(b"other", a=1)


def test_old_keys_are_purged_by_the_job(app):
    office = build_office(app)
    api = Api(app, office)
    monday = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    with time_machine.travel(monday, tick=False):
        assert post_ticket(api, office, key="monday").status_code == 201
    with time_machine.travel(monday + timedelta(days=1), tick=False):
        assert post_ticket(api, office, key="tuesday").status_code == 201
        assert run_job(app, "idempotency", idempotency_job.run) == 1
    with app.app_context():
        assert db.session.scalars(select(IdempotencyKey.key)).all() == ["tuesday"]
    assert "idempotency" in [name for name, _, _ in JOBS]
