"""Ticket issue over HTTP: POST /api/v1/sites/<slug>/tickets as a kiosk.

Kiosks issue tickets for one service, as fast as they can, at each concurrency
level (a new service per level, so each starts from an empty queue; 8 untimed
tickets per kiosk first warm the server up), without and then with a fresh
Idempotency-Key per request (its ratio is against the
row without); then checks that every number was given exactly once. Baseline:
GET /healthz on the same server, same run, same connections (the framework's
ceiling). With --stored N, N finished tickets of earlier days are stored for
the first level's service before it runs (the cost must not grow with them).

    .venv/bin/python bench/issue_tickets.py --dburl sqlite
    .venv/bin/python bench/issue_tickets.py --dburl postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/issue_tickets.py --concurrency 16 --stored 1000000
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (  # noqa: E402
    concurrency_levels,
    expect,
    healthz_step,
    parse_args,
    prefill,
    print_header,
    print_row,
    raw_request,
    request,
    run_load,
    running_server,
    set_up_office,
)


def main() -> None:
    args = parse_args(__doc__, default_num=2000)
    with running_server(args) as server:
        office = set_up_office(server)
        path = f"/api/v1/sites/{office.slug}/tickets"
        numbers: dict[str, list[int]] = {}
        waiting: dict[str, int] = {}

        print_header(__doc__, server)
        for level, clients in enumerate(concurrency_levels(args)):
            # Each level fills its own service, so that every level starts from an
            # empty queue (a day's queue, not the thousands left by earlier levels).
            code = f"L{level + 1}"
            status, body = request(
                server.url,
                "POST",
                f"/api/v1/sites/{office.slug}/services",
                {"code": code, "name": f"Level {level + 1}", "prefix": chr(ord("E") + level)},
                office.admin_token,
            )
            expect(status, body, 201)
            issued = numbers.setdefault(code, [])
            if level == 0 and args.stored:
                status, body = request(
                    server.url, "POST", path, {"service": code}, office.kiosk_token
                )
                expect(status, body, 201)
                issued.append(body["number"])  # type: ignore[index]
                seconds = prefill(server, code, office.slug, args.stored)
                print(f"(stored {args.stored:,} earlier tickets for {code} in {seconds:.0f} s)")

            plain = raw_request("POST", path, {"service": code}, office.kiosk_token)

            def issue_step(_: int, code: str = code, keyed: bool = False, plain: bytes = plain):  # type: ignore[no-untyped-def]
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

            def check(_: int, issued: list[int] = issued):  # type: ignore[no-untyped-def]
                def accept(got: int, answer: bytes) -> bool:
                    if got != 201:
                        return False
                    issued.append(json.loads(answer)["number"])
                    return True

                return accept

            baseline = run_load(server, "baseline GET /healthz", clients, args.num, healthz_step)
            print_row(baseline)
            # Not timed: the server's pool opens the connections this level needs
            # and caches the new service (cold, the first 100 tickets of a level
            # had a p99 of about 150 ms on PostgreSQL); its tickets are checked too.
            run_load(server, "warm-up", clients, clients * 8, issue_step, check)
            result = run_load(server, "issue ticket", clients, args.num, issue_step, check)
            print_row(result, baseline)
            keyed = run_load(
                server,
                "issue, with key",
                clients,
                args.num,
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


if __name__ == "__main__":
    main()
