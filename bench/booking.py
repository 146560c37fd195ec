"""Appointment booking over HTTP: many citizens book at once (the booking page opens).

``--concurrency`` clients (default 100) POST /api/v1/sites/<slug>/appointments
as fast as they can, public (no token), each request with its own phone except
every fifth, which books again with the phone of the request before it, the
same service and day, the next slot: the two are sent at the same moment by two
clients. Requests go round the slots of ``--days`` days (from tomorrow) with
``--capacity`` places each, so most slots are asked for more than they hold:
201 booked, 409 slot_full or already_booked are the right answers; anything
else is an error. Baseline: GET /healthz on the same server, same run, same
number of connections.

Then the database is read (not the API): no slot holds more booked
appointments than its capacity, each slot's counter (slot_bookings) equals its
booked appointments, one booked appointment per phone, service and day, and as
many booked as the clients were answered 201.

    .venv/bin/python bench/booking.py --dburl sqlite
    .venv/bin/python bench/booking.py --dburl postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (  # noqa: E402
    concurrency_levels,
    expect,
    healthz_step,
    parse_args,
    print_header,
    print_row,
    raw_request,
    request,
    run_load,
    running_server,
    set_up_office,
)

SITE_TIMEZONE = "Africa/Porto-Novo"  # set_up_office's
WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--capacity", type=int, default=3, help="places per slot (1-100)")
    parser.add_argument("--days", type=int, default=2, help="days of slots, from tomorrow")
    parser.add_argument("--slot-minutes", type=int, default=15, help="length of a slot")


def phone_of(n: int) -> str:
    """Request n's phone: its own, except every fifth takes the one of request n - 1."""
    if n % 5 == 4:
        n -= 1
    return f"+22177{n:07d}"


def open_booking(server, office, args: argparse.Namespace) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """Opening hours every day, booking on for CNI; the slots (UTC starts) of each day."""
    hours = {day: [["08:00", "17:00"]] for day in WEEK}
    for method, path, body in (
        ("PUT", f"/api/v1/sites/{office.slug}/hours", hours),
        (
            "PATCH",
            f"/api/v1/sites/{office.slug}/services/CNI",
            {
                "booking_enabled": True,
                "slot_minutes": args.slot_minutes,
                "slot_capacity": args.capacity,
                "booking_days_ahead": args.days + 1,
            },
        ),
    ):
        status, answer = request(server.url, method, path, body, office.admin_token)
        expect(status, answer, 200)
    today = datetime.now(ZoneInfo(SITE_TIMEZONE)).date()
    days: list[list[str]] = []
    for ahead in range(1, args.days + 1):
        day: date = today + timedelta(days=ahead)
        status, slots = request(
            server.url,
            "GET",
            f"/api/v1/sites/{office.slug}/services/CNI/slots?date={day.isoformat()}",
        )
        expect(status, slots, 200)
        starts = [slot["start"] for slot in slots]  # type: ignore[union-attr, index]
        if starts:
            days.append(starts)
    if not days:
        raise RuntimeError("no slot to book: check the opening hours and booking settings")
    return days


def check_database(database_url: str, capacity: int) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:

            def one(sql: str) -> int:
                return int(conn.execute(text(sql), {"capacity": capacity}).scalar_one())

            return {
                "booked": one("SELECT count(*) FROM appointments WHERE status = 'booked'"),
                "slots over capacity": one(
                    "SELECT count(*) FROM (SELECT service_id, slot_start FROM appointments "
                    "WHERE status = 'booked' GROUP BY service_id, slot_start "
                    "HAVING count(*) > :capacity) AS s"
                ),
                "slot counters over capacity": one(
                    "SELECT count(*) FROM slot_bookings WHERE booked > :capacity"
                ),
                "slot counters not equal to their appointments": one(
                    "SELECT count(*) FROM slot_bookings b WHERE b.booked <> (SELECT count(*) "
                    "FROM appointments a WHERE a.service_id = b.service_id "
                    "AND a.slot_start = b.slot_start AND a.status = 'booked')"
                ),
                "phones booked twice the same service and day": one(
                    "SELECT count(*) FROM (SELECT service_id, service_day, phone "
                    "FROM appointments WHERE status = 'booked' "
                    "GROUP BY service_id, service_day, phone HAVING count(*) > 1) AS d"
                ),
            }
    finally:
        engine.dispose()


def main() -> None:
    args = parse_args(__doc__, default_num=2000, extra=options, default_concurrency="100")
    with running_server(args) as server:
        office = set_up_office(server)
        days = open_booking(server, office, args)
        slots = [(d, i) for d, starts in enumerate(days) for i in range(len(starts))]
        path = f"/api/v1/sites/{office.slug}/appointments"
        places = len(slots) * args.capacity
        print_header(
            __doc__,
            server,
            f"public booking, 1 service, {len(days)} day(s), {len(slots)} slots × "
            f"{args.capacity} places = {places} places for {args.num} requests "
            f"(every 5th request books again with the phone before it, same day)",
        )

        def start_of(n: int) -> str:
            if n % 5 == 4:
                # The phone of request n - 1, its day, the slot after its slot.
                d, i = slots[(n - 1) % len(slots)]
                return days[d][(i + 1) % len(days[d])]
            d, i = slots[n % len(slots)]
            return days[d][i]

        def book_step(_: int):  # type: ignore[no-untyped-def]
            return lambda n: raw_request(
                "POST",
                path,
                {"service": "CNI", "start": start_of(n), "phone": phone_of(n), "name": "Bench"},
            )

        answers: Counter[str] = Counter()

        def check(_: int):  # type: ignore[no-untyped-def]
            def accept(got: int, body: bytes) -> bool:
                if got == 201:
                    answers["booked"] += 1
                    return True
                if got == 409:
                    answers[json.loads(body).get("error", {}).get("code", "409")] += 1
                    return True
                answers[f"HTTP {got}"] += 1
                return False

            return accept

        for clients in concurrency_levels(args):
            baseline = run_load(server, "baseline GET /healthz", clients, args.num, healthz_step)
            print_row(baseline)
            result = run_load(server, "book (all answers)", clients, args.num, book_step, check)
            print_row(result, baseline)
            booked = answers["booked"]
            rate = booked / result.seconds if result.seconds else 0.0
            print(
                f"{'':<22}bookings made: {booked} ({rate:.0f}/s, "
                f"{rate / baseline.throughput:.2f}× healthz req/s); answers: {dict(answers)}"
            )
            # Later levels would find the slots full: one level per run is the bar.
            break
        print()
        if server.database_url == "(external)":
            print("(external server: its database is not checked)")
            return
        found = check_database(server.database_url, args.capacity)
        for name, value in found.items():
            print(f"{name}: {value}")
        print(f"booked in the database = answered 201: {found['booked'] == answers['booked']}")


if __name__ == "__main__":
    main()
