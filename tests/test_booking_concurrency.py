"""No overbooking: 20 citizens booking the last places of one slot at the same instant.

On PostgreSQL (the conditional upsert re-checks the count under the row lock)
and on the embedded SQLite default (serialised writers).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from queue_app.extensions import db
from queue_app.models import Appointment, SlotBooking

from .conftest import Api, build_office

pytestmark = pytest.mark.slow

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ALL_DAY = {day: [["07:00", "19:00"]] for day in DAYS}


def test_twenty_parallel_bookings_of_a_slot_of_three_give_three_and_seventeen_409(any_app):
    office = build_office(any_app, slug="rush", timezone="Africa/Dakar")
    api = Api(any_app, office)
    assert api.put("sites/rush/hours", "manager", json=ALL_DAY).status_code == 200
    api.patch(
        "sites/rush/services/CNI",
        "manager",
        json={"booking_enabled": True, "slot_minutes": 15, "slot_capacity": 3},
    )
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    start = datetime.combine(tomorrow, time(10, 0), tzinfo=UTC).isoformat()
    barrier = threading.Barrier(20)

    def citizen(n: int) -> int:
        client = any_app.test_client()
        barrier.wait(timeout=30)
        response = client.post(
            "/api/v1/sites/rush/appointments",
            json={"service": "CNI", "start": start, "phone": f"+22177{1000000 + n}"},
        )
        return response.status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = sorted(pool.map(citizen, range(20)))
    assert statuses == [201] * 3 + [409] * 17
    with any_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Appointment)) == 3
        assert db.session.scalar(select(SlotBooking.booked)) == 3
    slots = api.get(f"sites/rush/services/CNI/slots?date={tomorrow}").get_json()
    assert next(s for s in slots if s["local_time"] == "10:00")["available"] == 0
