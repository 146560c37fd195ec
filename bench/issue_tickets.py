"""Ticket issue over HTTP: POST /api/v1/sites/<slug>/tickets as a kiosk.

Kiosks issue tickets as fast as they can, at each concurrency level (new
services per level, so each starts from empty queues; 8 untimed tickets per
kiosk first warm the server up), without and then with a fresh Idempotency-Key
per request (its ratio is against the row without); then checks that every
number was given exactly once in each service. Baseline: GET /healthz on the
same server, same run, same connections (the framework's ceiling); each row
says its req/s and its server CPU per request against it.

--kiosk printing: the kiosk prints through the server to a fake ESC/POS network
printer the bench listens with on 127.0.0.1 (tests/fake_printer.py), so each
ticket also spools a print job; the CPU of a row then runs until the printer has
every ticket of it. --services N: the kiosks are spread over N services (client
i issues for service i mod N). With --stored N, N finished tickets of earlier
days are stored for the first level's first service before it runs (the cost
must not grow with them). --server embedded: against `queue-app run`.

    .venv/bin/python bench/issue_tickets.py --dburl sqlite
    .venv/bin/python bench/issue_tickets.py --dburl postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/issue_tickets.py --kiosk printing --services 4
    .venv/bin/python bench/issue_tickets.py --concurrency 16 --stored 1000000
    .venv/bin/python bench/issue_tickets.py --server embedded --concurrency 1
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (  # noqa: E402
    Result,
    add_service,
    concurrency_levels,
    cpu_seconds,
    expect,
    healthz_step,
    parse_args,
    prefill,
    prefix_for,
    print_header,
    print_row,
    raw_request,
    request,
    run_load,
    running_server,
    server_pids,
    set_up_office,
)


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kiosk",
        choices=("plain", "printing"),
        default="plain",
        help="plain: the kiosk shows the ticket; printing: the server also prints it "
        "on a fake ESC/POS printer (a print job spooled per ticket)",
    )


def point_kiosk_at_printer(server, office, printer_url: str) -> None:  # type: ignore[no-untyped-def]
    status, devices = request(
        server.url, "GET", f"/api/v1/sites/{office.slug}/devices", None, office.admin_token
    )
    expect(status, devices, 200)
    kiosk = next(d for d in devices if d["kind"] == "kiosk")  # type: ignore[union-attr, index]
    status, body = request(
        server.url,
        "PATCH",
        f"/api/v1/sites/{office.slug}/devices/{kiosk['id']}",
        {"printer": printer_url},
        office.admin_token,
    )
    expect(status, body, 200)


def main() -> None:
    args = parse_args(__doc__, default_num=2000, extra=options)
    spread = max(1, args.services)
    printer = None
    if args.kiosk == "printing":
        from tests.fake_printer import FakePrinter

        printer = FakePrinter().start()
    with running_server(args) as server:
        office = set_up_office(server)
        if printer is not None:
            point_kiosk_at_printer(server, office, printer.url)
        path = f"/api/v1/sites/{office.slug}/tickets"
        numbers: dict[str, list[int]] = {}
        waiting: dict[str, int] = {}
        pids = server_pids(server)
        issued_total = 0

        def measured(label: str, clients: int, step, check) -> Result:  # type: ignore[no-untyped-def]
            """A load run; printing, its CPU counts until the printer has every ticket."""
            nonlocal issued_total
            before = cpu_seconds(pids)
            result = run_load(server, label, clients, args.num, step, check)
            issued_total += result.requests - result.errors
            if printer is not None:
                if not printer.wait_for(issued_total, timeout=120):
                    print(f"(the printer has {len(printer.prints)} of {issued_total} tickets)")
                if pids and result.requests:
                    spent = cpu_seconds(pids) - before
                    result.cpu_ms_per_request = spent * 1000 / result.requests
            return result

        kiosk = (
            f"printing (the server prints to a fake ESC/POS printer, {printer.url})"
            if printer
            else "plain (no printer)"
        )
        print_header(
            __doc__,
            server,
            f"kiosk {kiosk}; clients spread over {spread} service(s)",
        )
        for level, clients in enumerate(concurrency_levels(args)):
            # Each level fills its own services, so that every level starts from
            # empty queues (a day's queue, not the thousands left by earlier levels).
            codes = [f"L{level + 1}S{k + 1}" for k in range(spread)]
            for k, code in enumerate(codes):
                add_service(server, office, code, prefix_for(level * spread + k))
                numbers[code] = []
            if level == 0 and args.stored:
                status, body = request(
                    server.url, "POST", path, {"service": codes[0]}, office.kiosk_token
                )
                expect(status, body, 201)
                numbers[codes[0]].append(body["number"])  # type: ignore[index]
                issued_total += 1
                seconds = prefill(server, codes[0], office.slug, args.stored)
                print(f"(stored {args.stored:,} earlier tickets for {codes[0]} in {seconds:.0f} s)")

            def issue_step(index: int, keyed: bool = False, codes: list[str] = codes):  # type: ignore[no-untyped-def]
                code = codes[index % len(codes)]
                plain = raw_request("POST", path, {"service": code}, office.kiosk_token)

                def step(n: int) -> bytes:
                    if not keyed:
                        return plain
                    # A fresh key per request: the claim a kiosk's first try costs.
                    return raw_request(
                        "POST",
                        path,
                        {"service": code},
                        office.kiosk_token,
                        {"Idempotency-Key": f"{code}-{n}"},
                    )

                return step

            def check(index: int, codes: list[str] = codes):  # type: ignore[no-untyped-def]
                issued = numbers[codes[index % len(codes)]]

                def accept(got: int, answer: bytes) -> bool:
                    if got != 201:
                        return False
                    issued.append(json.loads(answer)["number"])
                    return True

                return accept

            baseline = run_load(server, "baseline GET /healthz", clients, args.num, healthz_step)
            print_row(baseline)
            # Not timed: the server's pool opens the connections this level needs
            # and caches the new services (cold, the first 100 tickets of a level
            # had a p99 of about 150 ms on PostgreSQL); its tickets are checked too.
            warm = run_load(server, "warm-up", clients, clients * 8, issue_step, check)
            issued_total += warm.requests - warm.errors
            result = measured("issue ticket", clients, issue_step, check)
            print_row(result, baseline)
            keyed = measured(
                "issue, with key",
                clients,
                lambda index, step=issue_step: step(index, keyed=True),  # type: ignore[misc]
                check,
            )
            print_row(keyed, result, "without key")
        status, board = request(
            server.url, "GET", f"/api/v1/sites/{office.slug}/board", None, office.admin_token
        )
        if status == 200:
            waiting = board["waiting"]  # type: ignore[index]
        print()
        for code, issued in numbers.items():
            duplicates = len(issued) - len(set(issued))
            exact = sorted(issued) == list(range(1, len(issued) + 1))
            print(
                f"service {code}: {len(issued)} tickets issued; duplicate numbers: "
                f"{duplicates}; numbers exactly 1..{len(issued)}: {exact}; "
                f"board says waiting: {waiting.get(code, status)}"
            )
        if printer is not None:
            printer.wait_for(issued_total, timeout=120)
            print(f"printed: {len(printer.prints)} of {issued_total} tickets issued")
            printer.stop()


if __name__ == "__main__":
    main()
