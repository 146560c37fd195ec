"""Call-next contention over HTTP: agents at several counters call the same queue.

Fills one service's queue, then each client is an agent at its own counter
calling POST /api/v1/counters/<id>/call-next (which also finishes the previous
ticket) until the queue is empty; then checks that no ticket was called twice.
Baseline: GET /healthz on the same server and connections.

    .venv/bin/python bench/call_next.py --dburl sqlite
    .venv/bin/python bench/call_next.py --dburl postgresql://postgres@127.0.0.1:5432/postgres
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
    run_load,
    running_server,
    send,
    set_up_office,
)


def fill_queue(url: str, slug: str, kiosk_token: str, count: int) -> None:
    run_load(
        url,
        "fill",
        8,
        count,
        lambda _: (
            lambda conn, n: send(
                conn, "POST", f"/api/v1/sites/{slug}/tickets", {"service": "CNI"}, kiosk_token
            )[0]
        ),
    )


def main() -> None:
    args = parse_args(__doc__, default_num=1000)
    levels = concurrency_levels(args)
    with running_server(args) as server:
        office = set_up_office(server, agents=max(levels))
        print_header(__doc__, server)
        called: list[str] = []
        for clients in levels:
            baseline = run_load(
                server.url, "baseline GET /healthz", clients, args.num, healthz_step
            )
            print_row(baseline)
            fill_queue(server.url, office.slug, office.kiosk_token, args.num)

            def agent_step(index: int):  # type: ignore[no-untyped-def]
                counter_id = office.counters[index]
                token = office.agent_tokens[index]

                def step(conn: http.client.HTTPConnection, n: int) -> int:
                    status, body = send(
                        conn, "POST", f"/api/v1/counters/{counter_id}/call-next", None, token
                    )
                    if status == 200:
                        called.append(body["label"])  # type: ignore[index]
                    return status

                return step

            result = run_load(server.url, "call next", clients, args.num, agent_step)
            print_row(result, baseline)
            # Empty the counters' hands for the next level.
            for counter_id, token in zip(office.counters, office.agent_tokens, strict=False):
                with_conn = http.client.HTTPConnection(server.url.split("//", 1)[1])
                status, body = send(
                    with_conn, "POST", f"/api/v1/counters/{counter_id}/call-next", None, token
                )
                with_conn.close()
                expect(status, body, 204)
        duplicates = len(called) - len(set(called))
        print()
        print(f"tickets called: {len(called)}; called twice: {duplicates}")


if __name__ == "__main__":
    main()
