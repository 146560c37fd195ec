"""Shared benchmark machinery: a server on a fresh database, an office, a load generator.

Not a test: run on demand, prints figures, asserts nothing about time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
ADMIN_EMAIL = "bench-admin@example.sn"
ADMIN_PASSWORD = "bench-password-2026"


def parse_args(doc: str, default_num: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        "--dburl",
        default="sqlite",
        help="'sqlite' (a fresh file) or a PostgreSQL server URL; a fresh "
        "database is created on that server and dropped afterwards",
    )
    parser.add_argument(
        "--num", type=int, default=default_num, help="requests per concurrency level"
    )
    parser.add_argument(
        "--concurrency", default="1,8,16,32", help="comma-separated numbers of concurrent clients"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="gunicorn worker processes (0: 1 for SQLite, 2 for PostgreSQL)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=4,
        help="threads per gunicorn worker (few threads: less GIL contention)",
    )
    parser.add_argument(
        "--url",
        default=None,
        help="use an already running server instead (its database must be empty)",
    )
    return parser.parse_args()


# --- server -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def fresh_database(dburl: str) -> Iterator[str]:
    if dburl == "sqlite":
        folder = tempfile.mkdtemp(prefix="guichet-bench-")
        yield f"sqlite:///{folder}/bench.db"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from queue_app.config import normalize_database_url

    server = normalize_database_url(dburl)
    name = f"guichet_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Server:
    url: str
    database_url: str
    process: subprocess.Popen | None = None
    description: str = ""


@contextmanager
def running_server(args: argparse.Namespace) -> Iterator[Server]:
    """Start gunicorn (gthread) on a fresh database, with an admin to set up the office."""
    if args.url:
        yield Server(
            url=args.url.rstrip("/"), database_url="(external)", description="external server"
        )
        return
    with fresh_database(args.dburl) as database_url:
        instance = tempfile.mkdtemp(prefix="guichet-bench-instance-")
        env = {
            **os.environ,
            "QUEUE_APP_DATABASE_URL": database_url,
            "QUEUE_APP_INSTANCE_PATH": instance,
            "QUEUE_APP_SECRET_KEY": "bench-secret",
            "QUEUE_APP_LOG_LEVEL": "WARNING",
            "QUEUE_APP_RATELIMIT_ENABLED": "false",
        }
        cli = str(VENV_BIN / "queue-app")
        subprocess.run([cli, "init-db"], env=env, check=True, capture_output=True)
        subprocess.run(
            [cli, "create-user", ADMIN_EMAIL, "--role", "admin", "--password", ADMIN_PASSWORD],
            env=env,
            check=True,
            capture_output=True,
        )
        port = free_port()
        sqlite = database_url.startswith("sqlite")
        workers = args.workers or (1 if sqlite else 2)
        command = [
            str(VENV_BIN / "gunicorn"),
            "-k",
            "gthread",
            "-w",
            str(workers),
            "--threads",
            str(args.threads),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--chdir",
            str(ROOT),
            "wsgi:app",
        ]
        process = subprocess.Popen(command, env=env, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, process)
            kind = "SQLite" if sqlite else "PostgreSQL"
            yield Server(
                url=url,
                database_url=database_url,
                process=process,
                description=f"gunicorn gthread, {workers} worker(s) × {args.threads} "
                f"threads, {kind}",
            )
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        try:
            status, _ = request(url, "GET", "/readyz")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not become ready")


# --- HTTP -------------------------------------------------------------------------


def request(
    url: str, method: str, path: str, body: dict | None = None, token: str | None = None
) -> tuple[int, dict | list | None]:
    """One request on a new connection (set-up steps, not measured)."""
    host = url.split("//", 1)[1]
    conn = http.client.HTTPConnection(host, timeout=30)
    try:
        return send(conn, method, path, body, token)
    finally:
        conn.close()


def send(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: dict | None = None,
    token: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> tuple[int, dict | list | None]:
    headers = {"Content-Type": "application/json", **(extra_headers or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    payload = json.dumps(body) if body is not None else None
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    data = response.read()
    return response.status, (json.loads(data) if data else None)


def expect(status: int, body: object, wanted: int) -> None:
    if status != wanted:
        raise RuntimeError(f"expected HTTP {wanted}, got {status}: {body}")


@dataclass
class Office:
    slug: str
    admin_token: str
    kiosk_token: str
    counters: list[int] = field(default_factory=list)
    agent_tokens: list[str] = field(default_factory=list)


def set_up_office(server: Server, agents: int = 0, counters_per_service: int = 0) -> Office:
    """A site with one service (and counters/agents for call-next) set up over the API."""
    status, body = request(
        server.url, "POST", "/api/v1/auth/token", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    expect(status, body, 200)
    admin = body["token"]  # type: ignore[index]
    slug = f"bench-{uuid.uuid4().hex[:6]}"
    for path, payload in (
        ("/api/v1/sites", {"slug": slug, "name": "Bench office", "timezone": "Africa/Porto-Novo"}),
        (
            f"/api/v1/sites/{slug}/services",
            {"code": "CNI", "name": "Carte d'identité", "prefix": "B"},
        ),
    ):
        status, body = request(server.url, "POST", path, payload, admin)
        expect(status, body, 201)
    status, body = request(
        server.url,
        "POST",
        f"/api/v1/sites/{slug}/devices",
        {"kind": "kiosk", "name": "Borne"},
        admin,
    )
    expect(status, body, 201)
    office = Office(slug=slug, admin_token=admin, kiosk_token=body["token"])  # type: ignore[index]
    for n in range(agents):
        status, body = request(
            server.url,
            "POST",
            f"/api/v1/sites/{slug}/counters",
            {"name": f"Guichet {n + 1}", "services": ["CNI"]},
            admin,
        )
        expect(status, body, 201)
        counter_id = body["id"]  # type: ignore[index]
        email = f"agent{n}-{slug}@example.sn"
        status, body = request(
            server.url,
            "POST",
            "/api/v1/users",
            {"email": email, "password": ADMIN_PASSWORD, "role": "agent", "sites": [slug]},
            admin,
        )
        expect(status, body, 201)
        status, body = request(
            server.url, "POST", "/api/v1/auth/token", {"email": email, "password": ADMIN_PASSWORD}
        )
        expect(status, body, 200)
        token = body["token"]  # type: ignore[index]
        status, body = request(
            server.url, "POST", f"/api/v1/counters/{counter_id}/open", None, token
        )
        expect(status, body, 200)
        office.counters.append(counter_id)
        office.agent_tokens.append(token)
    return office


# --- load -------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    concurrency: int
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
        return ordered[index]


# A worker returns the HTTP status of one request made on its connection.
Step = Callable[[http.client.HTTPConnection, int], int]


def run_load(
    url: str,
    label: str,
    concurrency: int,
    total: int,
    step_for: Callable[[int], Step],
    ok: tuple[int, ...] = (200, 201),
) -> Result:
    """``concurrency`` threads share ``total`` requests, each on its own keep-alive connection."""
    host = url.split("//", 1)[1]
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    counter = iter(range(total))
    lock = threading.Lock()
    barrier = threading.Barrier(concurrency + 1)

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(host, timeout=60)
        step = step_for(index)
        barrier.wait()
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            started = time.perf_counter()
            try:
                status = step(conn, n)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host, timeout=60)
                status = 0
            latencies[index].append((time.perf_counter() - started) * 1000)
            if status not in ok:
                errors[index] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    flat = [value for chunk in latencies for value in chunk]
    return Result(label, concurrency, len(flat), elapsed, flat, sum(errors))


def healthz_step(_: int) -> Step:
    def step(conn: http.client.HTTPConnection, n: int) -> int:
        return send(conn, "GET", "/healthz")[0]

    return step


def print_header(doc: str, server: Server) -> None:
    print(doc.strip())
    print()
    print(f"server: {server.description}")
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print()
    print(
        f"{'scenario':<22}{'clients':>8}{'requests':>10}{'req/s':>10}{'p50 ms':>9}"
        f"{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"
    )


def print_row(result: Result, baseline: Result | None = None) -> None:
    ratio = f"   {result.throughput / baseline.throughput:.2f}× baseline" if baseline else ""
    print(
        f"{result.label:<22}{result.concurrency:>8}{result.requests:>10}"
        f"{result.throughput:>10.0f}{result.percentile(50):>9.1f}{result.percentile(95):>9.1f}"
        f"{result.percentile(99):>9.1f}{result.errors:>8}{ratio}",
        flush=True,
    )


def concurrency_levels(args: argparse.Namespace) -> list[int]:
    return [int(part) for part in str(args.concurrency).split(",") if part.strip()]
