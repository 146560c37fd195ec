"""Ticket issue over HTTP: POST /api/v1/sites/<slug>/tickets as a kiosk.

Kiosks issue tickets for one service, as fast as they can, at each concurrency
level; then checks that every number was given exactly once. Baseline: GET
/healthz on the same server and connections (the framework's ceiling).

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
        numbers: list[int] = []

        def issue_step(_: int):  # type: ignore[no-untyped-def]
            def step(conn: http.client.HTTPConnection, n: int) -> int:
                status, body = send(conn, "POST", path, {"service": "CNI"}, office.kiosk_token)
                if status == 201:
                    numbers.append(body["number"])  # type: ignore[index]
                return status

            return step

        print_header(__doc__, server)
        for clients in concurrency_levels(args):
            baseline = run_load(
                server.url, "baseline GET /healthz", clients, args.num, healthz_step
            )
            print_row(baseline)
            result = run_load(server.url, "issue ticket", clients, args.num, issue_step)
            print_row(result, baseline)
        status, board = request(
            server.url, "GET", f"/api/v1/sites/{office.slug}/board", None, office.admin_token
        )
        duplicates = len(numbers) - len(set(numbers))
        expected = list(range(1, len(numbers) + 1))
        print()
        print(
            f"tickets issued: {len(numbers)}; duplicate numbers: {duplicates}; "
            f"numbers exactly 1..{len(numbers)}: {sorted(numbers) == expected}; "
            f"board says waiting: {board['waiting'] if status == 200 else status}"
        )


if __name__ == "__main__":
    main()
