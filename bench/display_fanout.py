"""Call -> screen fan-out: N connected displays and tracking pages, K calls.

Starts the server as docs/operations/production.md's command does (gunicorn, one
process per worker; gevent by default, or threads to compare; gunicorn 27 has no
eventlet worker any more), sets up
an office over the API, then a separate load process (gevent, raw Engine.IO v4
WebSockets, no thread per socket) connects N clients: half waiting-room
displays (room site:<slug>, event ticket_called), half tracking pages (room
ticket:<code>, event ticket_updated with the new position). An agent makes K
calls one after the other; for every (client, call) the time from call-next
returning (and from it being sent) to the event arriving is recorded. Prints
p50/p99/max per kind, missed events, and the server's memory per idle
connection (RSS of its worker processes before and after connecting).

    .venv/bin/python bench/display_fanout.py --clients 100,1000 --calls 20
    .venv/bin/python bench/display_fanout.py --clients 1000 --mode threading
    .venv/bin/python bench/display_fanout.py --clients 1000 --workers 2 --redis redis://127.0.0.1:6379/0
    .venv/bin/python bench/display_fanout.py --clients 2000 --find-max

The load generator shares the machine's cores with the server: the figures are
an upper bound of the latency a dedicated server would give.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and "--load-process" in sys.argv:
    # The load process: gevent before anything opens a socket.
    from gevent import monkey

    monkey.patch_all()

import argparse
import json
import os
import resource
import signal
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (  # noqa: E402
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    ROOT,
    VENV_BIN,
    expect,
    free_port,
    fresh_database,
    request,
    set_up_office,
    wait_ready,
)

MAX_TRACKED_TICKETS = 250


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--clients", default="100,1000", help="comma-separated client counts")
    parser.add_argument("--calls", type=int, default=20, help="calls per level (K)")
    parser.add_argument("--interval", type=float, default=0.3, help="seconds between calls")
    parser.add_argument("--tracking-share", type=float, default=0.5, help="share of tracking pages")
    parser.add_argument(
        "--mode",
        choices=["gevent", "threading", "eventlet"],
        default="gevent",
        help="server async mode",
    )
    parser.add_argument("--workers", type=int, default=1, help="server processes (2+ need --redis)")
    parser.add_argument("--redis", default=None, help="Redis URL: Socket.IO message queue")
    parser.add_argument("--dburl", default="sqlite", help="'sqlite' or a PostgreSQL server URL")
    parser.add_argument(
        "--find-max",
        action="store_true",
        help="after the levels, double the clients until connections fail or p99 > 1 s",
    )
    parser.add_argument("--max-clients", type=int, default=16000, help="cap for --find-max")
    parser.add_argument("--load-process", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--plan", help=argparse.SUPPRESS)
    return parser.parse_args()


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- the server ----------------------------------------------------------------------


@contextmanager
def server(args: argparse.Namespace, max_clients: int):
    if args.workers > 1 and not args.redis:
        raise SystemExit("several server processes need --redis (the Socket.IO message queue)")
    with fresh_database(args.dburl) as database_url:
        instance = tempfile.mkdtemp(prefix="guichet-fanout-")
        env = {
            **os.environ,
            "QUEUE_APP_DATABASE_URL": database_url,
            "QUEUE_APP_INSTANCE_PATH": instance,
            "QUEUE_APP_SECRET_KEY": "bench-secret",
            # The production server on this machine only (wsgi.py refuses it otherwise).
            "QUEUE_APP_ALLOW_LOOPBACK_PUBLIC_URL": "true",
            "QUEUE_APP_LOG_LEVEL": "WARNING",
            "QUEUE_APP_RATELIMIT_ENABLED": "false",
            # The load comes from one address.
            "QUEUE_APP_SOCKETIO_MAX_CONNECTIONS_PER_ADDRESS": "0",
        }
        if args.redis:
            env["QUEUE_APP_REDIS_URL"] = args.redis
            env["QUEUE_APP_SOCKETIO_CHANNEL"] = f"guichet-bench-{uuid.uuid4().hex[:8]}"
        cli = str(VENV_BIN / "queue-app")
        subprocess.run([cli, "init-db"], env=env, check=True, capture_output=True)
        subprocess.run(
            [cli, "create-user", ADMIN_EMAIL, "--role", "admin", "--password", ADMIN_PASSWORD],
            env=env,
            check=True,
            capture_output=True,
        )
        port = free_port()
        worker = {
            "gevent": ["-k", "gevent", "--worker-connections", str(max_clients * 2 + 1000)],
            # Threads: each WebSocket holds one for its whole life.
            "threading": ["-k", "gthread", "--threads", str(max_clients + 64)],
        }[args.mode]
        command = [
            str(VENV_BIN / "gunicorn"),
            *worker,
            "-w",
            str(args.workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--timeout",
            "120",
            "--chdir",
            str(ROOT),
            "wsgi:app",
        ]
        process = subprocess.Popen(command, env=env, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, process, timeout=60)
            yield url, process
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def worker_rss_kib(master: subprocess.Popen) -> int:
    """Resident memory of gunicorn's worker processes (not the master), in KiB."""
    total = 0
    for task in Path(f"/proc/{master.pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for pid in children:
            status = Path(f"/proc/{pid}/status")
            if status.exists():
                for line in status.read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
    return total


# --- the office ------------------------------------------------------------------------


def prepare(url: str, calls: int, trackers: int) -> dict[str, Any]:
    office = set_up_office_with_display(url)
    tracked = min(trackers, MAX_TRACKED_TICKETS)
    codes = []
    for n in range(calls + tracked):
        status, body = request(
            url,
            "POST",
            f"/api/v1/sites/{office['slug']}/tickets",
            {"service": "CNI"},
            office["kiosk"],
        )
        expect(status, body, 201)
        if n >= calls:
            codes.append(body["code"])  # type: ignore[index]
    return {**office, "codes": codes, "first_position": calls}


def set_up_office_with_display(url: str) -> dict[str, Any]:
    class _Server:  # what set_up_office reads
        pass

    srv = _Server()
    srv.url = url  # type: ignore[attr-defined]
    office = set_up_office(srv, agents=1)  # type: ignore[arg-type]
    status, body = request(
        url,
        "POST",
        f"/api/v1/sites/{office.slug}/devices",
        {"kind": "display", "name": "Salle"},
        office.admin_token,
    )
    expect(status, body, 201)
    return {
        "slug": office.slug,
        "kiosk": office.kiosk_token,
        "display": body["token"],  # type: ignore[index]
        "counter": office.counters[0],
        "agent": office.agent_tokens[0],
    }


# --- the load process -------------------------------------------------------------------


def load_process(url: str, plan_path: str) -> None:
    """Connect the clients, say "ready", record events until "stop" comes on stdin."""
    import gevent
    import websocket

    plan = json.loads(Path(plan_path).read_text())
    arrivals: list[list[tuple[str, Any, float]]] = []
    failed = 0
    ws_url = url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    stopping = False

    def client(index: int, token: str | None, code: str | None) -> None:
        nonlocal failed
        seen: list[tuple[str, Any, float]] = []
        arrivals.append(seen)
        try:
            ws = websocket.create_connection(ws_url, timeout=60)
            ws.recv()
            ws.send("40" + (json.dumps({"token": token}) if token else ""))
            while not ws.recv().startswith("40"):
                pass
            if code:
                ws.send('421["track",' + json.dumps({"code": code}) + "]")
                while not ws.recv().startswith("431"):  # its answer: the page is following
                    pass
        except Exception:
            failed += 1
            return
        connected.append(index)
        sockets.append(ws)
        ws.settimeout(None)  # blocking reads: a greenlet sleeps until a packet comes
        while not stopping:
            try:
                packet = ws.recv()
            except Exception:
                return
            now = time.monotonic()
            if packet == "2":
                ws.send("3")
            elif packet.startswith("42"):
                name, payload = json.loads(packet[2:])[:2]
                if name == "ticket_called":
                    seen.append(("call", payload["label"], now))
                elif name == "ticket_updated":
                    seen.append(("position", payload["position"], now))

    connected: list[int] = []
    sockets: list[Any] = []
    greenlets = []
    for index in range(plan["displays"] + plan["trackers"]):
        if index < plan["displays"]:
            greenlets.append(gevent.spawn(client, index, plan["display_token"], None))
        else:
            code = plan["codes"][(index - plan["displays"]) % len(plan["codes"])]
            greenlets.append(gevent.spawn(client, index, None, code))
        if index % 50 == 49:
            gevent.sleep(0.05)  # connect in waves, as screens switched on
    deadline = time.monotonic() + 120
    while len(connected) + failed < len(greenlets) and time.monotonic() < deadline:
        gevent.sleep(0.1)
    print(json.dumps({"ready": len(connected), "failed": failed}), flush=True)
    from gevent.os import tp_read

    buffer = b""
    while b"stop" not in buffer:
        buffer += tp_read(sys.stdin.fileno(), 64)
    stopping = True
    for ws in sockets:
        ws.close()
    gevent.joinall(greenlets, timeout=5)
    kinds = ["display"] * plan["displays"] + ["tracker"] * plan["trackers"]
    print(json.dumps({"arrivals": arrivals, "kinds": kinds}), flush=True)


# --- a run ---------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def run_level(args: argparse.Namespace, url: str, master: subprocess.Popen, clients: int) -> dict:
    trackers = int(round(clients * args.tracking_share))
    displays = clients - trackers
    office = prepare(url, args.calls, max(trackers, 1))
    plan = {
        "displays": displays,
        "trackers": trackers,
        "display_token": office["display"],
        "codes": office["codes"],
    }
    plan_file = Path(tempfile.mkstemp(prefix="fanout-plan-", suffix=".json")[1])
    plan_file.write_text(json.dumps(plan))
    rss_before = worker_rss_kib(master)
    load = subprocess.Popen(
        [sys.executable, __file__, "--load-process", "--url", url, "--plan", str(plan_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready = json.loads(load.stdout.readline())  # type: ignore[union-attr]
        time.sleep(1)
        rss_after = worker_rss_kib(master)
        sent_at, returned_at, labels = [], [], []
        import http.client

        conn = http.client.HTTPConnection(url.split("//", 1)[1], timeout=30)
        for _ in range(args.calls):
            started = time.monotonic()
            conn.request(
                "POST",
                f"/api/v1/counters/{office['counter']}/call-next",
                headers={"Authorization": f"Bearer {office['agent']}"},
            )
            response = conn.getresponse()
            body = json.loads(response.read())
            returned = time.monotonic()
            expect(response.status, body, 200)
            sent_at.append(started)
            returned_at.append(returned)
            labels.append(body["label"])
            time.sleep(args.interval)
        conn.close()
        time.sleep(2)  # stragglers
        load.stdin.write("stop\n")  # type: ignore[union-attr]
        load.stdin.flush()  # type: ignore[union-attr]
        result = json.loads(load.stdout.readline())  # type: ignore[union-attr]
    finally:
        load.wait(timeout=60)
        plan_file.unlink(missing_ok=True)

    from_return = {"display": [], "tracker": []}
    from_send = {"display": [], "tracker": []}
    missed = {"display": 0, "tracker": 0}
    code_index = {code: n for n, code in enumerate(office["codes"])}
    for index, (seen, kind) in enumerate(zip(result["arrivals"], result["kinds"], strict=False)):
        if kind == "display":
            arrived = {label: at for what, label, at in seen if what == "call"}
            for k, label in enumerate(labels):
                if label in arrived:
                    from_return[kind].append(1000 * (arrived[label] - returned_at[k]))
                    from_send[kind].append(1000 * (arrived[label] - sent_at[k]))
                else:
                    missed[kind] += 1
        else:
            code = plan["codes"][(index - displays) % len(plan["codes"])]
            start = office["first_position"] + code_index[code]
            positions = [(pos, at) for what, pos, at in seen if what == "position"]
            for k in range(len(labels)):
                # A page shows the latest state: in a burst it may jump past a position.
                # The time that matters is when it first shows this call's effect or later.
                expected = start - (k + 1)
                reached = [at for pos, at in positions if pos is not None and pos <= expected]
                if reached:
                    from_return[kind].append(1000 * (reached[0] - returned_at[k]))
                    from_send[kind].append(1000 * (reached[0] - sent_at[k]))
                else:
                    missed[kind] += 1
    connected = max(ready["ready"], 1)
    return {
        "clients": clients,
        "connected": ready["ready"],
        "failed": ready["failed"],
        "from_return": from_return,
        "from_send": from_send,
        "missed": missed,
        "rss_per_conn_kib": (rss_after - rss_before) / connected,
        "rss_after_mib": rss_after / 1024,
    }


def print_level(stats: dict) -> None:
    for kind in ("display", "tracker"):
        values = stats["from_return"][kind]
        sent = stats["from_send"][kind]
        if not values and not stats["missed"][kind]:
            continue
        print(
            f"{stats['clients']:>7} {kind:<8}{stats['connected']:>7}{stats['failed']:>6}"
            f"{len(values):>8}{stats['missed'][kind]:>7}"
            f"{percentile(values, 50):>9.1f}{percentile(values, 99):>9.1f}"
            f"{max(values or [0]):>9.1f}"
            f"{percentile(sent, 50):>9.1f}{percentile(sent, 99):>9.1f}"
            f"{stats['rss_per_conn_kib']:>9.1f}{stats['rss_after_mib']:>9.0f}",
            flush=True,
        )


def main() -> None:
    args = parse_args()
    raise_fd_limit()
    if args.load_process:
        load_process(args.url, args.plan)
        return
    levels = [int(part) for part in args.clients.split(",") if part.strip()]
    top = max(levels + ([args.max_clients] if args.find_max else []))
    print(__doc__.strip())
    print()
    print(
        f"server: gunicorn, {args.workers} process(es), {args.mode} mode, "
        f"{'Redis ' + args.redis if args.redis else 'no message queue'}, {args.dburl}; "
        f"{args.calls} calls, {args.interval}s apart; machine: {os.cpu_count()} CPUs"
    )
    print("latency in ms from call-next returning (p50/p99/max) and from it being sent (p50/p99);")
    print("memory: server RSS per idle connection (KiB) and in all (MiB)")
    print()
    print(
        f"{'clients':>7} {'kind':<8}{'conn':>7}{'fail':>6}{'events':>8}{'missed':>7}"
        f"{'p50':>9}{'p99':>9}{'max':>9}{'sent p50':>9}{'sent p99':>9}{'KiB/c':>9}{'MiB':>9}"
    )
    with server(args, top) as (url, master):
        for clients in levels:
            print_level(run_level(args, url, master, clients))
        if args.find_max:
            clients = levels[-1] if levels else 1000
            while clients * 2 <= args.max_clients:
                clients *= 2
                stats = run_level(args, url, master, clients)
                print_level(stats)
                all_latencies = stats["from_return"]["display"] + stats["from_return"]["tracker"]
                if stats["failed"] or percentile(all_latencies, 99) > 1000:
                    print(f"stopped: {clients} clients failed to connect or p99 > 1 s")
                    break
    sys.stdout.flush()


if __name__ == "__main__":
    main()
