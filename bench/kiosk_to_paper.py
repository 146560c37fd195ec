"""Kiosk tap → ticket on paper: from the kiosk's POST to the last byte at the printer.

A fake ESC/POS network printer listens on 127.0.0.1 (the one of the tests). For each
ticket the clock starts when the kiosk sends its request and stops when the printer
has received the ticket's last byte, through two paths:

  tcp    the server prints to the kiosk's network printer itself, right after commit
  agent  a print agent (guichet_printer, woken by Socket.IO) claims the job and prints

Beside them, the kiosk's own HTTP round trip (the ticket on screen) is the baseline.
Target: p99 under 500 ms. Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (  # noqa: E402
    expect,
    parse_args,
    request,
    running_server,
    send,
    set_up_office,
)
from tests.fake_printer import FakePrinter  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def row(label: str, values: list[float]) -> None:
    print(
        f"  {label:<34} n={len(values):<5} p50 {percentile(values, 50):7.1f} ms   "
        f"p95 {percentile(values, 95):7.1f} ms   p99 {percentile(values, 99):7.1f} ms   "
        f"max {max(values):7.1f} ms   mean {statistics.fmean(values):7.1f} ms"
    )


def measure(server_url: str, office, printer: FakePrinter, num: int) -> tuple[list, list]:
    """Issue ``num`` tickets one after another (one kiosk); (screen ms, paper ms) lists."""
    import http.client

    path = f"/api/v1/sites/{office.slug}/tickets"
    host = server_url.split("//", 1)[1]
    screen, paper = [], []
    for n in range(num):
        # A connection per tap, as a kiosk left idle between citizens opens one.
        conn = http.client.HTTPConnection(host, timeout=30)
        try:
            before = len(printer.prints)
            started = time.perf_counter()
            status, body = send(conn, "POST", path, {"service": "CNI"}, office.kiosk_token)
            answered = time.perf_counter()
            expect(status, body, 201)
            if not printer.wait_for(before + 1, timeout=30):
                raise RuntimeError(f"ticket {n + 1} never reached the printer")
            label = body["label"].encode()  # type: ignore[index]
            if label not in printer.prints[before]:
                raise RuntimeError("the printer received another ticket than the one issued")
            screen.append((answered - started) * 1000)
            paper.append((printer.last_byte_at[before] - started) * 1000)
        finally:
            conn.close()
    return screen, paper


def main() -> None:
    args = parse_args(__doc__, default_num=300)
    from guichet_printer.agent import PrintAgent

    with running_server(args) as server:
        office = set_up_office(server)
        status, devices = request(
            server.url, "GET", f"/api/v1/sites/{office.slug}/devices", None, office.admin_token
        )
        expect(status, devices, 200)
        kiosk = next(d for d in devices if d["kind"] == "kiosk")  # type: ignore[union-attr, index]
        print(__doc__)
        print(f"server: {server.description}; {args.num} tickets per path, one kiosk\n")

        # tcp: the server prints.
        tcp_printer = FakePrinter().start()
        status, body = request(
            server.url,
            "PATCH",
            f"/api/v1/sites/{office.slug}/devices/{kiosk['id']}",
            {"printer": tcp_printer.url},
            office.admin_token,
        )
        expect(status, body, 200)
        measure(server.url, office, tcp_printer, 5)  # warm-up
        screen, paper = measure(server.url, office, tcp_printer, args.num)
        row("tcp: kiosk answer (screen)", screen)
        row("tcp: kiosk request → last byte", paper)
        tcp_printer.stop()

        # agent: a print agent claims and prints.
        agent_printer = FakePrinter().start()
        status, body = request(
            server.url,
            "POST",
            f"/api/v1/sites/{office.slug}/devices",
            {"kind": "printer", "name": "Agent PC borne"},
            office.admin_token,
        )
        expect(status, body, 201)
        agent_device, agent_token = body["id"], body["token"]  # type: ignore[index]
        status, body = request(
            server.url,
            "PATCH",
            f"/api/v1/sites/{office.slug}/devices/{kiosk['id']}",
            {"print_agent": agent_device},
            office.admin_token,
        )
        expect(status, body, 200)
        import tempfile

        agent = PrintAgent(
            server.url,
            agent_token,
            agent_printer.url,
            state_dir=Path(tempfile.mkdtemp(prefix="guichet-bench-agent-")),
            poll_interval=10.0,
        )
        thread = threading.Thread(target=agent.run, daemon=True)
        thread.start()
        try:
            measure(server.url, office, agent_printer, 5)  # warm-up (and Socket.IO connected)
            screen, paper = measure(server.url, office, agent_printer, args.num)
            row("agent: kiosk answer (screen)", screen)
            row("agent: kiosk request → last byte", paper)
        finally:
            agent.stop()
            thread.join(15)
            agent_printer.stop()
        print(
            f"\nprinted once each: tcp {len(tcp_printer.prints)}, agent {len(agent_printer.prints)}"
        )


if __name__ == "__main__":
    main()
