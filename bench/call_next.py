"""Call-next contention over HTTP: agents at several counters call the same queue.

Fills one service's queue, then each client is an agent at its own counter
calling POST /api/v1/counters/<id>/call-next (which also finishes the previous
ticket) until the queue is empty; then checks that no ticket was called twice.
Baseline: GET /healthz on the same server, same run, same connections. With
--stored N, N finished tickets of earlier days are stored for the service first.

    .venv/bin/python bench/call_next.py --dburl sqlite
    .venv/bin/python bench/call_next.py --dburl postgresql://postgres@127.0.0.1:5432/postgres
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


def fill_queue(server, slug: str, kiosk_token: str, count: int) -> None:  # type: ignore[no-untyped-def]
    data = raw_request("POST", f"/api/v1/sites/{slug}/tickets", {"service": "CNI"}, kiosk_token)
    run_load(server, "fill", 8, count, lambda _: lambda n: data)


def main() -> None:
    args = parse_args(__doc__, default_num=1000)
    if args.concurrency == "1,8,16,32":
        args.concurrency = "4"
    levels = concurrency_levels(args)
    with running_server(args) as server:
        office = set_up_office(server, agents=max(levels))
        print_header(__doc__, server)
        called: list[str] = []
        for clients in levels:
            baseline = run_load(server, "baseline GET /healthz", clients, args.num, healthz_step)
            print_row(baseline)
            fill_queue(server, office.slug, office.kiosk_token, args.num)
            if args.stored and clients == levels[0]:
                seconds = prefill(server, "CNI", office.slug, args.stored)
                print(f"(stored {args.stored:,} tickets of earlier days in {seconds:.0f} s)")

            def agent_step(index: int):  # type: ignore[no-untyped-def]
                data = raw_request(
                    "POST",
                    f"/api/v1/counters/{office.counters[index]}/call-next",
                    None,
                    office.agent_tokens[index],
                )
                return lambda n: data

            def check(_: int):  # type: ignore[no-untyped-def]
                def accept(got: int, answer: bytes) -> bool:
                    if got != 200:
                        return False
                    called.append(json.loads(answer)["label"])
                    return True

                return accept

            result = run_load(server, "call next", clients, args.num, agent_step, check)
            print_row(result, baseline)
            # Empty the counters' hands for the next level.
            for counter_id, token in zip(office.counters, office.agent_tokens, strict=False):
                status, body = request(
                    server.url, "POST", f"/api/v1/counters/{counter_id}/call-next", None, token
                )
                expect(status, body, 204)
        duplicates = len(called) - len(set(called))
        print()
        print(f"tickets called: {len(called)}; called twice: {duplicates}")


if __name__ == "__main__":
    main()
