"""Devices alive: every device's last request or socket activity, kept in memory and
written every few seconds (not once per request), online while seen recently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from queue_app.extensions import db, socketio
from queue_app.models import Device, DeviceKind
from queue_app.ops.devices import book_of

from .conftest import count_statements

# A Tuesday morning in Dakar: no test here depends on the hour it runs at.
MORNING = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def morning():
    with time_machine.travel(MORNING, tick=True) as traveller:
        yield traveller


def devices_by_kind(api, office) -> dict[str, dict]:
    answer = api.get(f"sites/{office.slug}/devices", "manager")
    assert answer.status_code == 200, answer.get_json()
    return {device["kind"]: device for device in answer.get_json()}


def stored_last_seen(app, kind: str) -> datetime | None:
    with app.app_context():
        return db.session.scalar(select(Device.last_seen_at).where(Device.kind == kind))


def test_a_device_never_seen_is_listed_offline_with_no_time(api, office):
    devices = devices_by_kind(api, office)
    for kind in ("kiosk", "display", "tablet", "printer"):
        assert devices[kind]["last_seen_at"] is None
        assert devices[kind]["online"] is False


def test_a_kiosk_that_issues_is_online_and_written_once_for_many_tickets(app, api, office):
    for _ in range(5):
        api.issue("CNI")
    kiosk = devices_by_kind(api, office)["kiosk"]
    assert kiosk["online"] is True
    assert kiosk["last_seen_at"].startswith("2026-12-08T10:0")
    # Not written by the requests themselves: by the book's round, once.
    assert stored_last_seen(app, DeviceKind.KIOSK) is None
    book = book_of(app)
    with count_statements(app) as statements:
        assert book.flush() == 1
    assert [s for s in statements if s.lstrip().upper().startswith("UPDATE DEVICES")] != []
    seen = stored_last_seen(app, DeviceKind.KIOSK)
    assert seen is not None
    assert abs(seen - datetime.now(UTC)) < timedelta(seconds=5)
    # Seen again at once: nothing to write for DEVICE_SEEN_RESOLUTION_SECONDS.
    api.issue("CNI")
    assert book.flush() == 0
    assert stored_last_seen(app, DeviceKind.KIOSK) == seen


def test_a_busy_kiosk_is_written_at_most_every_resolution(app, api, office, morning):
    book = book_of(app)
    api.issue("CNI")
    assert book.flush() == 1
    first = stored_last_seen(app, DeviceKind.KIOSK)
    morning.shift(timedelta(seconds=10))
    api.issue("CNI")
    assert book.flush() == 0  # kept for later, not lost
    morning.shift(timedelta(seconds=25))
    assert book.flush() == 1
    later = stored_last_seen(app, DeviceKind.KIOSK)
    assert timedelta(seconds=9) < later - first < timedelta(seconds=12)


def test_an_issue_adds_no_statement_for_being_seen(app, api, office):
    api.issue("CNI")  # warm the caches
    with count_statements(app) as statements:
        api.issue("CNI")
    assert not [s for s in statements if "last_seen_at" in s]


def test_a_display_is_seen_while_its_socket_is_open_and_until_it_closes(app, api, office, morning):
    client = socketio.test_client(app, auth={"token": office.tokens["display"]})
    assert client.is_connected()
    book = book_of(app)
    book.flush()
    connected_at = stored_last_seen(app, DeviceKind.DISPLAY)
    assert connected_at is not None
    # An hour on the wall, no request: the open connection keeps it online.
    morning.shift(timedelta(hours=1))
    assert devices_by_kind(api, office)["display"]["online"] is True
    assert book.flush() >= 1
    assert stored_last_seen(app, DeviceKind.DISPLAY) - connected_at >= timedelta(minutes=59)
    client.disconnect()
    gone_at = datetime.now(UTC)
    morning.shift(timedelta(seconds=app.config["DEVICE_OFFLINE_SECONDS"] + 1))
    display = devices_by_kind(api, office)["display"]
    assert display["online"] is False
    assert abs(datetime.fromisoformat(display["last_seen_at"]) - gone_at) < timedelta(seconds=2)


def test_kiosk_and_display_pages_count_as_seen(app, client, office):
    assert client.get(f"/kiosk/{office.slug}?token={office.tokens['kiosk']}").status_code == 200
    assert client.get(f"/display/{office.slug}?token={office.tokens['display']}").status_code == 200
    book = book_of(app)
    assert book.flush() == 2
    assert stored_last_seen(app, DeviceKind.KIOSK) is not None
    assert stored_last_seen(app, DeviceKind.DISPLAY) is not None
    assert stored_last_seen(app, DeviceKind.TABLET) is None
