"""The test command's PostgreSQL and Redis: the machine's when they answer, else our own.

    python -m tests.services pytest -n auto tests

runs the command with QUEUE_APP_TEST_POSTGRES and QUEUE_APP_TEST_REDIS set (conftest
reads them). When nothing answers on 127.0.0.1:5432 (PostgreSQL) or 127.0.0.1:6379
(Redis), Debian's ``postgresql`` / ``redis-server`` packages are installed if missing
(apt, as root or through sudo, without prompting) and a server of the run's own is
started on a free port with its files in a temporary folder; it is stopped and removed
when the command ends, however it ends. A server that answers is never touched.

``--postgres-port`` and ``--redis-port`` name other ports to probe (tests of this module).
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

PACKAGES = {"postgres": ["postgresql"], "redis": ["redis-server"]}


def answers(port: int, host: str = "127.0.0.1") -> bool:
    """Something accepts connections on the port."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def say(message: str) -> None:
    print(f"[services] {message}", file=sys.stderr, flush=True)  # noqa: T201


def postgres_bin_on_path() -> None:
    """Debian keeps initdb and pg_ctl in /usr/lib/postgresql/<version>/bin, off PATH."""
    if shutil.which("initdb") and shutil.which("pg_ctl"):
        return
    folders = sorted(
        (p for p in glob.glob("/usr/lib/postgresql/*/bin") if p.split("/")[-2].isdigit()),
        key=lambda p: int(p.split("/")[-2]),
    )
    if folders:
        os.environ["PATH"] = f"{folders[-1]}{os.pathsep}{os.environ.get('PATH', '')}"


def installed(kind: str) -> bool:
    if kind == "postgres":
        postgres_bin_on_path()
        return bool(shutil.which("initdb") and shutil.which("pg_ctl"))
    return bool(shutil.which("redis-server"))


def apt_install(packages: list[str]) -> bool:
    """Debian's packages, without prompting; retried while another apt holds the lock."""
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    say(f"installing {' '.join(packages)} (apt)…")
    for attempt in range(6):
        update = subprocess.run([*sudo, "apt-get", "update", "-qq"], env=env, check=False)
        install = subprocess.run(
            [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
            env=env,
            check=False,
            stdout=subprocess.DEVNULL,
        )
        if update.returncode == 0 and install.returncode == 0:
            return True
        if attempt < 5:
            say(f"apt failed (attempt {attempt + 1}), retrying…")
            time.sleep(10)
    return False


def ensure_installed(kind: str, *, required: bool = True) -> None:
    """The server's programs, installed when missing. Not required: a failure is only said
    (the tests that start a server of their own then fail or skip as they would)."""
    if installed(kind):
        return
    if apt_install(PACKAGES[kind]) and installed(kind):
        return
    message = f"could not install {' '.join(PACKAGES[kind])}"
    if required:
        raise SystemExit(message)
    say(message)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def own_postgres() -> Iterator[str]:
    from .servers import PostgresServer

    server = PostgresServer()
    try:
        server.init().start()
        say(f"PostgreSQL of this run on port {server.port} ({server.folder})")
        yield server.url
    finally:
        server.destroy()
        say("PostgreSQL of this run stopped")


@contextmanager
def own_redis() -> Iterator[str]:
    import tempfile
    from pathlib import Path

    from .servers import RedisServer

    folder = Path(tempfile.mkdtemp(prefix="guichet-redis-"))
    server = RedisServer(folder)
    try:
        server.start()
        say(f"Redis of this run on port {server.port} ({folder})")
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
        say("Redis of this run stopped")


@contextmanager
def services(postgres_port: int = 5432, redis_port: int = 6379) -> Iterator[dict[str, str]]:
    """The environment naming the PostgreSQL and Redis of the tests, started when needed."""
    env: dict[str, str] = {}
    with ExitStack() as stack:
        if answers(postgres_port):
            env["QUEUE_APP_TEST_POSTGRES"] = os.environ.get(
                "QUEUE_APP_TEST_POSTGRES",
                f"postgresql+psycopg://postgres@127.0.0.1:{postgres_port}/postgres",
            )
        else:
            say(f"no PostgreSQL on port {postgres_port}: starting one")
            ensure_installed("postgres")
            env["QUEUE_APP_TEST_POSTGRES"] = stack.enter_context(own_postgres())
        if answers(redis_port):
            env["QUEUE_APP_TEST_REDIS"] = os.environ.get(
                "QUEUE_APP_TEST_REDIS", f"redis://127.0.0.1:{redis_port}/0"
            )
        else:
            say(f"no Redis on port {redis_port}: starting one")
            ensure_installed("redis")
            env["QUEUE_APP_TEST_REDIS"] = stack.enter_context(own_redis())
        # The tests that start servers of their own (tests/servers.py) need these too.
        ensure_installed("postgres", required=False)
        ensure_installed("redis", required=False)
        yield env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-port", type=int, default=5432)
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run")
    args = parser.parse_args(argv)
    command = [c for c in args.command if c != "--"] or ["true"]
    # SIGTERM (CI cancelling the job) unwinds like Ctrl-C: the servers are stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    with services(args.postgres_port, args.redis_port) as env:
        try:
            return subprocess.run(command, env={**os.environ, **env}, check=False).returncode
        except KeyboardInterrupt:
            return 130


if __name__ == "__main__":
    sys.exit(main())
