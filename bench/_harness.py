"""Shared benchmark machinery: a server on a fresh database, an office, a load generator.

Not a test: run on demand, prints figures, asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
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


def parse_args(
    doc: str,
    default_num: int,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
    default_concurrency: str = "1,8,16,32",
) -> argparse.Namespace:
    """The options every bench takes; ``extra`` adds a script's own."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    if extra is not None:
        extra(parser)
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
        "--concurrency",
        default=default_concurrency,
        help="comma-separated numbers of concurrent clients",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="gunicorn worker processes (production: one per core PostgreSQL does not "
        "need; on a 2-core machine that also runs PostgreSQL and the load generator, 1)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=4,
        help="threads per gunicorn worker (few threads: less GIL contention)",
    )
    parser.add_argument(
        "--server",
        choices=("gevent", "gthread", "embedded"),
        default="gevent",
        help="gunicorn worker class (gevent: the layout of docs/operations/production.md), "
        "or 'embedded': `queue-app run`, the server the app starts by default",
    )
    parser.add_argument(
        "--services",
        type=int,
        default=1,
        help="services the clients are spread over (round robin); default 1",
    )
    parser.add_argument(
        "--stored",
        type=int,
        default=0,
        help="tickets already stored (earlier days) before the run, e.g. 1000 or 1000000",
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

    from queue_app.infra.config import normalize_database_url

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
    embedded: bool = False


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
            # The production server on this machine only (wsgi.py refuses it otherwise).
            "QUEUE_APP_ALLOW_LOOPBACK_PUBLIC_URL": "true",
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
        workers = args.workers
        if args.server == "embedded":
            # The server `queue-app run` starts: what an office runs without gunicorn
            # (its scheduler too, as by default).
            command = [cli, "run", "--host", "127.0.0.1", "--port", str(port)]
        else:
            kind_options = (
                ["-k", "gevent", "--worker-connections", "1000"]
                if args.server == "gevent"
                else ["-k", "gthread", "--threads", str(args.threads)]
            )
            command = [
                str(VENV_BIN / "gunicorn"),
                *kind_options,
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "--chdir",
                str(ROOT),
                "wsgi:app",
            ]
        process = subprocess.Popen(
            command,
            env=env,
            cwd=str(ROOT),
            start_new_session=True,
            stdout=subprocess.DEVNULL if args.server == "embedded" else None,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, process)
            kind = "SQLite" if sqlite else "PostgreSQL"
            if args.server == "embedded":
                description = f"embedded (queue-app run, {embedded_mode(process)}), {kind}"
            else:
                per_worker = "gevent" if args.server == "gevent" else f"gthread × {args.threads}"
                description = f"gunicorn, {workers} worker(s) ({per_worker}), {kind}"
            yield Server(
                url=url,
                database_url=database_url,
                process=process,
                description=description,
                embedded=args.server == "embedded",
            )
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)


def embedded_mode(process: subprocess.Popen) -> str:
    """Whether `queue-app run` serves with gevent or threads (read from its loaded modules)."""
    try:
        maps = Path(f"/proc/{process.pid}/maps").read_text()
    except OSError:
        return "?"
    return "gevent" if "gevent" in maps else "threads"


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
    for _ in range(agents):
        add_agent(server, office, ["CNI"])
    return office


def prefix_for(n: int) -> str:
    """A ticket prefix (1-3 letters) of its own for the n-th service a bench adds."""
    return "Z" + chr(ord("A") + n // 26 % 26) + chr(ord("A") + n % 26)


def add_service(server: Server, office: Office, code: str, prefix: str) -> None:
    status, body = request(
        server.url,
        "POST",
        f"/api/v1/sites/{office.slug}/services",
        {"code": code, "name": f"Service {code}", "prefix": prefix},
        office.admin_token,
    )
    expect(status, body, 201)


def add_agent(server: Server, office: Office, services: list[str]) -> tuple[int, str]:
    """A counter serving ``services``, opened by an agent of its own: (counter id, token)."""
    n = len(office.counters)
    status, body = request(
        server.url,
        "POST",
        f"/api/v1/sites/{office.slug}/counters",
        {"name": f"Guichet {n + 1}", "services": services},
        office.admin_token,
    )
    expect(status, body, 201)
    counter_id = body["id"]  # type: ignore[index]
    email = f"agent{n}-{office.slug}@example.sn"
    status, body = request(
        server.url,
        "POST",
        "/api/v1/users",
        {"email": email, "password": ADMIN_PASSWORD, "role": "agent", "sites": [office.slug]},
        office.admin_token,
    )
    expect(status, body, 201)
    status, body = request(
        server.url, "POST", "/api/v1/auth/token", {"email": email, "password": ADMIN_PASSWORD}
    )
    expect(status, body, 200)
    token = body["token"]  # type: ignore[index]
    status, body = request(server.url, "POST", f"/api/v1/counters/{counter_id}/open", None, token)
    expect(status, body, 200)
    office.counters.append(counter_id)
    office.agent_tokens.append(token)
    return counter_id, token


# --- server processes: CPU and memory ------------------------------------------------


def server_pids(server: Server) -> list[int]:
    """The gunicorn workers (children of the master), else the master itself.

    The embedded server serves in its own process: that one, and any child.
    """
    if server.process is None:
        return []
    master = server.process.pid
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, split after its ")".
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == master:
            children.append(int(entry.name))
    if server.embedded:
        return [master, *children]
    return children or [master]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def rss_mb(pids: list[int]) -> float:
    """Resident memory of the processes, in MB."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


# --- load -------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    concurrency: int
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int
    cpu_ms_per_request: float = float("nan")
    rss_mb: float = float("nan")

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
        return ordered[index]


# A client's next request: the raw HTTP/1.1 bytes of request ``n``.
Step = Callable[[int], bytes]
# What to do with an answer: (status, body) -> whether it counts as a success.
Check = Callable[[int, bytes], bool]


def raw_request(
    method: str,
    path: str,
    body: dict | None = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """An HTTP/1.1 keep-alive request, built once: the load generator sends bytes."""
    payload = json.dumps(body).encode() if body is not None else b""
    lines = [f"{method} {path} HTTP/1.1", "Host: bench", f"Content-Length: {len(payload)}"]
    if body is not None:
        lines.append("Content-Type: application/json")
    if token:
        lines.append(f"Authorization: Bearer {token}")
    lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at >= 0:
        end = lower.index(b"\r\n", at + 2)
        length = int(lower[at + 17 : end])
    body = await reader.readexactly(length) if length else b""
    return status, body


def run_load(
    server: Server | str,
    label: str,
    concurrency: int,
    total: int,
    step_for: Callable[[int], Step],
    check: Callable[[int], Check] | None = None,
    ok: tuple[int, ...] = (200, 201),
) -> Result:
    """``concurrency`` clients share ``total`` requests, each on its own keep-alive connection.

    One thread and asyncio, raw bytes: the generator shares the machine's cores
    with the server, so it spends as little CPU as it can per request. The
    server's CPU time over the run is read from /proc (gunicorn's workers).
    """
    url = server.url if isinstance(server, Server) else server
    pids = server_pids(server) if isinstance(server, Server) else []
    host, _, port = url.split("//", 1)[1].partition(":")
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))

    async def client(index: int) -> None:
        nonlocal errors
        step = step_for(index)
        accept = check(index) if check else None
        reader, writer = await asyncio.open_connection(host, int(port or 80))
        clock = time.perf_counter
        try:
            for n in counter:
                data = step(n)
                started = clock()
                try:
                    writer.write(data)
                    status, body = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError):
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port or 80))
                    status, body = 0, b""
                latencies.append((clock() - started) * 1000)
                good = accept(status, body) if accept else status in ok
                if not good:
                    errors += 1
        finally:
            writer.close()

    async def main() -> float:
        cpu_before = cpu_seconds(pids)
        started = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
        main.cpu = cpu_seconds(pids) - cpu_before  # type: ignore[attr-defined]
        return elapsed

    elapsed = asyncio.run(main())
    result = Result(label, concurrency, len(latencies), elapsed, latencies, errors)
    if pids and latencies:
        result.cpu_ms_per_request = main.cpu * 1000 / len(latencies)  # type: ignore[attr-defined]
        result.rss_mb = rss_mb(pids)
    return result


def healthz_step(_: int) -> Step:
    data = raw_request("GET", "/healthz")
    return lambda n: data


def print_header(doc: str, server: Server, setup: str = "") -> None:
    """The script's description, then what was measured on what, then the table's head.

    ``setup``: the layout the rows measure (kiosk kind, spread of services, ...).
    """
    print(doc.strip())
    print()
    print(f"server: {server.description}")
    if setup:
        print(f"setup: {setup}")
    if server.embedded:
        print(connection_probe(server))
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print("CPU ms/op: the server processes' CPU time over the run / requests; RSS: theirs, MB")
    print("ratios: req/s and CPU ms/op against the row named (GET /healthz: same server, run)")
    print()
    print(
        f"{'scenario':<22}{'clients':>8}{'requests':>9}{'req/s':>8}{'p50 ms':>8}"
        f"{'p95 ms':>8}{'p99 ms':>8}{'CPU ms':>8}{'RSS MB':>8}{'errors':>7}"
    )


def connection_probe(server: Server, count: int = 30) -> str:
    """One client's GET /healthz p50, kept alive and on a new connection each time.

    The two differ by about 40 ms when the server writes an answer in two
    pieces and Nagle's algorithm waits for the client's delayed ACK.
    """
    kept = run_load(server, "probe", 1, count, healthz_step)
    host = server.url.split("//", 1)[1]
    fresh: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        conn = http.client.HTTPConnection(host, timeout=30)
        try:
            send(conn, "GET", "/healthz")
        finally:
            conn.close()
        fresh.append((time.perf_counter() - started) * 1000)
    fresh.sort()
    return (
        f"one client, GET /healthz p50: kept alive {kept.percentile(50):.1f} ms, "
        f"new connection each {fresh[len(fresh) // 2]:.1f} ms"
    )


def print_row(result: Result, baseline: Result | None = None, against: str = "healthz") -> None:
    ratio = ""
    if baseline:
        ratio = f"  {result.throughput / baseline.throughput:.2f}× {against}"
        if baseline.cpu_ms_per_request > 0:
            cpu = result.cpu_ms_per_request / baseline.cpu_ms_per_request
            ratio += f", CPU {cpu:.1f}× {against}'s"
    print(
        f"{result.label:<22}{result.concurrency:>8}{result.requests:>9}"
        f"{result.throughput:>8.0f}{result.percentile(50):>8.1f}{result.percentile(95):>8.1f}"
        f"{result.percentile(99):>8.1f}{result.cpu_ms_per_request:>8.2f}{result.rss_mb:>8.0f}"
        f"{result.errors:>7}{ratio}",
        flush=True,
    )


def concurrency_levels(args: argparse.Namespace) -> list[int]:
    return [int(part) for part in str(args.concurrency).split(",") if part.strip()]


# --- tickets already stored -------------------------------------------------------


def prefill(server: Server, service_code: str, slug: str, count: int) -> float:
    """Store ``count`` finished tickets of earlier days for a service (SQL, not HTTP).

    One ticket is issued over the API as a template; its row is copied ``count``
    times onto the days before, 1,000 a day. Returns the seconds it took.
    """
    from sqlalchemy import create_engine, text

    if count <= 0:
        return 0.0
    started = time.perf_counter()
    engine = create_engine(server.database_url)
    sqlite = engine.dialect.name == "sqlite"
    # Numbers only are formatted into these statements.
    series = (
        "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s "  # noqa: S608
        f"WHERE i < {count - 1}) "
        if sqlite
        else ""
    )
    source = "s" if sqlite else f"generate_series(0, {count - 1}) AS s(i)"
    day = (
        "date(t.service_day, '-' || (s.i / 1000 + 1) || ' days')"
        if sqlite
        else "t.service_day - (s.i / 1000 + 1)"
    )
    code = "'P' || s.i" if sqlite else "'P' || s.i::text"
    columns = (
        "site_id, service_id, issued_service_id, priority_class, "
        "priority_rank, source, phone, counter_id, agent_id, device_id, issued_at, queued_at, "
        "first_called_at, called_at, started_at, finished_at, recall_count, transfer_count"
    )
    with engine.begin() as conn:
        template = conn.execute(
            text(
                "SELECT t.id FROM tickets t JOIN services v ON v.id = t.service_id "
                "JOIN sites x ON x.id = t.site_id WHERE v.code = :code AND x.slug = :slug "
                "ORDER BY t.id LIMIT 1"
            ),
            {"code": service_code, "slug": slug},
        ).scalar_one()
        conn.execute(
            text(
                f"{series}INSERT INTO tickets "  # noqa: S608
                f"(service_day, code, status, number, label, {columns}) "
                f"SELECT {day}, {code}, 'done', s.i % 1000 + 1, 'P-' || (s.i % 1000 + 1), "
                + ", ".join(f"t.{c.strip()}" for c in columns.split(","))
                + f" FROM tickets t, {source} WHERE t.id = :id"
            ),
            {"id": template},
        )
    engine.dispose()
    return time.perf_counter() - started
