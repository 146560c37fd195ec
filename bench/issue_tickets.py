"""Ticket issue over HTTP: POST /api/v1/sites/<slug>/tickets as a kiosk.

Kiosks issue tickets for one service, as fast as they can, at each concurrency
level (a new service per level, so each starts from an empty queue), without
and then with a fresh Idempotency-Key per request (its ratio is against the
row without); then checks that every number was given exactly once. Baseline:
GET /healthz on the same server and connections (the framework's ceiling).

    .venv/bin/python bench/issue_tickets.py --dburl sqlite
    .venv/bin/python bench/issue_tickets.py --dburl postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import http.client
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (  # noqa: E402
    concurrency_levels,
    expect,
    healthz_step,
    parse_args,
    print_header,
    print_row,
    request,
    run_load,
    running_server,
    send,
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

            def issue_step(  # type: ignore[no-untyped-def]
                _: int, code: str = code, issued: list[int] = issued, keyed: bool = False
            ):
                def step(conn: http.client.HTTPConnection, n: int) -> int:
                    # A fresh key per request: the claim a kiosk's first try costs.
                    headers = {"Idempotency-Key": f"{code}-{n}"} if keyed else None
                    status, body = send(
                        conn, "POST", path, {"service": code}, office.kiosk_token, headers
                    )
                    if status == 201:
                        issued.append(body["number"])  # type: ignore[index]
                    return status

                return step

            baseline = run_load(
                server.url, "baseline GET /healthz", clients, args.num, healthz_step
            )
            print_row(baseline)
            result = run_load(server.url, "issue ticket", clients, args.num, issue_step)
            print_row(result, baseline)
            keyed = run_load(
                server.url,
                "issue, with key",
                clients,
                args.num,
                lambda index, step=issue_step: step(index, keyed=True),  # type: ignore[misc]
            )
            print_row(keyed, result)
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
