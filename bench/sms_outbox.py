"""SMS outbox delivery rate, and the cost of computing a month of slots.

1. Queues --num SMS (outbox.enqueue, as bookings and reminders do), then lets
   the delivery job (outbox.deliver_due) send them through the REAL client of
   --gateway to a local fake of the provider's API (tests/fake_providers.py),
   until every row is sent. Baseline: the same client sending the same number
   of messages straight to the fake, without the outbox (the provider call's
   own cost). Checks that every message reached the fake exactly once.
2. Computes the bookable slots of a month (31 days, 10-minute slots, two
   openings a day) for one service with bookings in it, --repeat times;
   baseline: one day.

    .venv/bin/python bench/sms_outbox.py --dburl sqlite --num 500
    .venv/bin/python bench/sms_outbox.py --dburl postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/sms_outbox.py --gateway android   (or orange, console)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import fresh_database  # noqa: E402
from queue_app import create_app  # noqa: E402
from queue_app.cli.commands import upgrade_database  # noqa: E402
from queue_app.extensions import db  # noqa: E402
from queue_app.models import MessageStatus, OutboundMessage, utcnow  # noqa: E402
from queue_app.queue import booking  # noqa: E402
from queue_app.queue.sites import create_service, create_site, set_hours  # noqa: E402
from queue_app.sms import outbox, registry  # noqa: E402
from queue_app.sms.gateway import Outgoing  # noqa: E402
from tests.fake_providers import FakeProviders  # noqa: E402
from tests.sms_helpers import provider_config  # noqa: E402

WEEK = {d: [["08:00", "12:30"], ["14:00", "17:00"]]
        for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday")}  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dburl", default="sqlite", help="'sqlite' or a PostgreSQL server URL")
    parser.add_argument("--num", type=int, default=500, help="messages to deliver")
    parser.add_argument(
        "--gateway", default="twilio", choices=["twilio", "android", "orange", "console"]
    )
    parser.add_argument("--repeat", type=int, default=20, help="month-of-slots computations")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    print(__doc__.split("\n\n")[0])
    with FakeProviders() as fake, fresh_database(args.dburl) as url:
        instance = tempfile.mkdtemp(prefix="guichet-bench-")
        config = {
            **provider_config(fake.url),
            "DATABASE_URL": url,
            "INSTANCE_PATH": instance,
            "SECRET_KEY": "bench",
            "SMS_BATCH_SIZE": 100,
        }
        app = create_app(config)
        with app.app_context():
            upgrade_database()
            site = create_site(
                db.session, "bench", "Espace Sénégal Services — Bench", "Africa/Dakar"
            )
            set_hours(db.session, site, WEEK)
            service = create_service(
                db.session, site, "CNI", names={"fr": "Carte d'identité"}, prefix="B"
            )
            booking.update_booking_settings(
                service, {"booking_enabled": True, "slot_minutes": 10, "slot_capacity": 3,
                          "booking_days_ahead": 40}
            )  # fmt: skip
            db.session.commit()
            print(f"database: {args.dburl.split('@')[-1]}, gateway: {args.gateway} (local fake)\n")
            deliver(app, site, args, fake)
            slots(app, site, service, args)
            db.session.remove()
            db.engine.dispose()
        app.extensions["queue_app.state_publisher"].stop()


def deliver(app, site, args, fake) -> None:  # type: ignore[no-untyped-def]
    n = args.num
    started = time.perf_counter()
    for i in range(n):
        outbox.enqueue(
            db.session, site, f"+22177{1000000 + i}", f"Rappel : RDV {i} demain à 9h",
            kind="bench", key=f"bench:{i}", gateway=args.gateway,
        )  # fmt: skip
        if i % 100 == 99:
            db.session.commit()
    db.session.commit()
    enqueue_s = time.perf_counter() - started

    runs = []
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        report = outbox.deliver_due(db.session, limit=100)
        runs.append((time.perf_counter() - t0, report.sent))
        if report.sent == 0 and report.retried == 0:
            break
    deliver_s = time.perf_counter() - started
    sent = db.session.query(OutboundMessage).filter(OutboundMessage.status.in_(
        [MessageStatus.SENT, MessageStatus.DELIVERED])).count()  # fmt: skip
    at_fake = len(fake.state.by(args.gateway)) if args.gateway != "console" else sent

    gateway = registry.gateway_for(db.session, site.id, args.gateway, app.config)
    started = time.perf_counter()
    for i in range(n):
        gateway.send(Outgoing(key=f"baseline:{i}", to=f"+22178{1000000 + i}", body="Rappel"))
    baseline_s = time.perf_counter() - started
    gateway.close()

    per_batch = [d / max(s, 1) * 1000 for d, s in runs if s]
    print("SMS outbox delivery")
    print(f"  enqueue            {n / enqueue_s:8.0f} msg/s   ({n} messages)")
    print(f"  outbox delivery    {n / deliver_s:8.0f} msg/s   ({len(runs)} job runs, "
          f"{statistics.median(per_batch):.2f} ms/msg median per batch)")  # fmt: skip
    print(f"  client alone       {n / baseline_s:8.0f} msg/s   (baseline: no outbox)")
    print(f"  outbox / baseline  {baseline_s / deliver_s:8.2f}")
    print(f"  check: {sent} rows sent, {at_fake} at the provider, duplicates "
          f"{at_fake - sent if args.gateway != 'console' else 0}\n")  # fmt: skip
    if sent != n or (args.gateway != "console" and at_fake != n):
        raise SystemExit("FAILED: a message was lost or reached the provider twice")


def slots(app, site, service, args) -> None:  # type: ignore[no-untyped-def]
    rules = booking.BookingRules.from_config(app.config)
    now = utcnow()
    first = booking.service_day(site, now) + timedelta(days=1)
    # Some bookings in the month.
    month = booking.slots_between(db.session, site, service, first, first + timedelta(days=30),
                                  now=now, rules=rules)  # fmt: skip
    for i, day_slots in enumerate(month.values()):
        for slot in day_slots[i % 5 :: 7]:
            booking.book(db.session, site, service, slot.start, phone=None, now=now, rules=rules)
    db.session.commit()
    count = sum(len(v) for v in month.values())

    def timed(last_offset: int) -> float:
        samples = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            last = first + timedelta(days=last_offset)
            booking.slots_between(db.session, site, service, first, last, now=now, rules=rules)
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples) * 1000

    month_ms, day_ms = timed(30), timed(0)
    print("Slots of a month (31 days, 10-minute slots, capacity 3)")
    print(f"  a month            {month_ms:8.2f} ms     ({count} slots, median of {args.repeat})")
    print(f"  one day            {day_ms:8.2f} ms     (baseline)")
    print(f"  month / day        {month_ms / day_ms:8.1f}")


if __name__ == "__main__":
    main()
