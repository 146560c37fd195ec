"""Call-next contention over HTTP: agents at several counters call their queues.

Fills the queues, then each client is an agent at its own counter calling
POST /api/v1/counters/<id>/call-next (which also finishes the previous ticket)
until the queues are empty; then checks that no ticket was called twice.
Baseline: GET /healthz on the same server, same run, same connections.

With --services N (N > 1), each level runs twice in one run: the agents all on
one service (one queue, the contended case), then the same number of agents
spread over N services, each counter serving its own service (agent i serves
service i mod N); the spread row's ratio is against the one-service row too.
With --stored N, N finished tickets of earlier days are stored for the first
service first.

    .venv/bin/python bench/call_next.py --dburl sqlite
    .venv/bin/python bench/call_next.py --dburl postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/call_next.py --concurrency 4 --services 4
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (  # noqa: E402
    add_agent,
    add_service,
    concurrency_levels,
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
    set_up_office,
)


def fill_queues(server, slug: str, kiosk_token: str, codes: list[str], count: int) -> None:  # type: ignore[no-untyped-def]
    """``count`` tickets spread evenly over the services ``codes``."""
    path = f"/api/v1/sites/{slug}/tickets"
    data = [raw_request("POST", path, {"service": code}, kiosk_token) for code in codes]
    result = run_load(server, "fill", 8, count, lambda _: lambda n: data[n % len(data)])
    if result.errors:
        raise RuntimeError(f"{result.errors} tickets could not be issued to fill the queues")


def main() -> None:
    args = parse_args(__doc__, default_num=1000, default_concurrency="4")
    levels = concurrency_levels(args)
    spread = max(1, args.services)
    layouts = [1, spread] if spread > 1 else [1]
    with running_server(args) as server:
        office = set_up_office(server)
        print_header(
            __doc__,
            server,
            "agents on 1 service"
            + (f", then on {spread} services (one per counter)" if spread > 1 else "")
            + "; tickets issued by a plain kiosk",
        )
        called: list[str] = []
        made = 0
        filled = 0
        for clients in levels:
            baseline = run_load(server, "baseline GET /healthz", clients, args.num, healthz_step)
            print_row(baseline)
            single = None
            for services in layouts:
                # Fresh services and counters per layout: each starts from full queues
                # and from counters with nothing in hand.
                codes = [f"Q{made + k + 1}" for k in range(services)]
                for k, code in enumerate(codes):
                    add_service(server, office, code, prefix_for(made + k))
                made += services
                counters = [
                    add_agent(server, office, [codes[i % services]]) for i in range(clients)
                ]
                # Enough in every queue that no agent runs dry during the timed run (the
                # agents share the run's requests, not always evenly); the rest is
                # called after it, untimed.
                per_service = args.num // services + (args.num // services // 2 + 10) * (
                    services > 1
                )
                fill_queues(server, office.slug, office.kiosk_token, codes, per_service * services)
                filled += per_service * services
                if args.stored and clients == levels[0] and services == 1:
                    seconds = prefill(server, codes[0], office.slug, args.stored)
                    print(f"(stored {args.stored:,} tickets of earlier days in {seconds:.0f} s)")

                def agent_step(index: int, counters=counters):  # type: ignore[no-untyped-def]
                    counter_id, token = counters[index]
                    data = raw_request(
                        "POST", f"/api/v1/counters/{counter_id}/call-next", None, token
                    )
                    return lambda n: data

                def check(_: int):  # type: ignore[no-untyped-def]
                    def accept(got: int, answer: bytes) -> bool:
                        if got != 200:
                            return False
                        called.append(json.loads(answer)["label"])
                        return True

                    return accept

                label = f"call next, {services} svc"
                result = run_load(server, label, clients, args.num, agent_step, check)
                print_row(result, baseline)
                if single is not None:
                    print(
                        f"{'':<22}{services} services: {result.throughput / single.throughput:.2f}×"
                        f" the req/s of 1 service, p99 {result.percentile(99):.1f} ms vs "
                        f"{single.percentile(99):.1f} ms"
                    )
                single = single or result
                # Untimed: the tickets left are called (checked too), the counters'
                # hands emptied.
                for counter_id, token in counters:
                    while True:
                        status, body = request(
                            server.url,
                            "POST",
                            f"/api/v1/counters/{counter_id}/call-next",
                            None,
                            token,
                        )
                        if status == 204:
                            break
                        expect(status, body, 200)
                        called.append(body["label"])  # type: ignore[index]
        duplicates = len(called) - len(set(called))
        print()
        print(
            f"tickets issued: {filled}; called: {len(called)}; called twice: {duplicates}; "
            f"never called: {filled - len(set(called))}"
        )


if __name__ == "__main__":
    main()
