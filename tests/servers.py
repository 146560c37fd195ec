"""Processes of a test's own: a Redis, a PostgreSQL and Guichet servers it may stop and start.

The shared PostgreSQL (5432) and Redis (6379) are never stopped: a test that
needs a database or Redis to go down starts its own here, on a free port, with
its files in the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

QUEUE_APP = Path(sys.executable).with_name("queue-app")
GUNICORN = Path(sys.executable).with_name("gunicorn")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, *, open_: bool, timeout: float = 20.0) -> None:
    """Until something listens on ``port`` (or nothing does any more)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                listening = True
        except OSError:
            listening = False
        if listening == open_:
            return
        if time.monotonic() > deadline:
            state = "listening" if open_ else "closed"
            raise AssertionError(f"port {port} not {state} within {timeout}s")
        time.sleep(0.02)


def _need(program: str, required_by: str) -> str:
    """The program's path; a missing one fails the test where the run requires that server."""
    path = shutil.which(program)
    if path is None:
        from .conftest import _require

        _require(required_by, f"{program} is not installed")
    return path


class RedisServer:
    """A redis-server of the test's own (no persistence), stopped and started at will."""

    def __init__(self, folder: Path) -> None:
        self.binary = _need("redis-server", "QUEUE_APP_REQUIRE_REDIS")
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        log = (self.folder / f"redis-{self.port}.log").open("ab")
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--dir", str(self.folder)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_port(self.port, open_=True)
        return self

    def stop(self) -> None:
        """Gone at once, as when the Redis machine fails (SIGKILL)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None
        wait_port(self.port, open_=False)


class PostgresServer:
    """A PostgreSQL cluster of the test's own (initdb + pg_ctl) on a free port.

    PostgreSQL refuses to run as root: as root (CI), the cluster is run as the
    ``postgres`` system user.
    """

    def __init__(self) -> None:
        self.initdb = _need("initdb", "QUEUE_APP_REQUIRE_POSTGRES")
        self.pg_ctl = _need("pg_ctl", "QUEUE_APP_REQUIRE_POSTGRES")
        # Not under pytest's temporary folder: the postgres user cannot enter root's.
        self.folder = Path(tempfile.mkdtemp(prefix="guichet-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            self.prefix = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.folder, "postgres")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.prefix, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def init(self) -> PostgresServer:
        self._run(self.initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        return self

    def start(self) -> PostgresServer:
        # fsync off is safe for a test's crash (the WAL written stays in the OS cache);
        # synchronous_commit must stay on, or an immediate stop loses the last commits.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run(
            self.pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start"
        )
        return self

    @property
    def log(self) -> Path:
        return self.folder / "postgres.log"

    def stop(self) -> None:
        """Down at once (immediate shutdown: connections are cut, as in a crash)."""
        self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        wait_port(self.port, open_=False)

    def destroy(self) -> None:
        """Stop the server if it runs and remove its files."""
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [*self.prefix, self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"],
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        shutil.rmtree(self.folder, ignore_errors=True)


class AppServer:
    """`queue-app run` in a subprocess on a fixed port (so a restart answers at the same URL)."""

    def __init__(self, folder: Path, env: dict[str, str], name: str = "server") -> None:
        self.folder = folder
        self.env = env
        self.name = name
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = folder / f"{name}.log"
        self.instance = folder / f"{name}-instance"
        self.instance.mkdir(exist_ok=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 45.0) -> AppServer:
        import requests

        handle = self.log.open("ab")
        self.proc = subprocess.Popen(
            [str(QUEUE_APP), "run", "--host", "127.0.0.1", "--port", str(self.port)]
            + ["--no-scheduler"],
            env={**self.env, "QUEUE_APP_INSTANCE_PATH": str(self.instance)},
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        handle.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name} not up in time:\n{self.tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no clean-up, no flush, as when the machine loses power."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        wait_port(self.port, open_=False)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def tail(self, size: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-size:] if self.log.exists() else ""


def server_env(database_url: str, **settings: Any) -> dict[str, str]:
    """The environment of a server subprocess: no QUEUE_APP_* of the caller, these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_APP_")}
    env.update(
        QUEUE_APP_DATABASE_URL=database_url,
        QUEUE_APP_SECRET_KEY="fault-test-secret",
        QUEUE_APP_RATELIMIT_ENABLED="false",
        QUEUE_APP_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update({f"QUEUE_APP_{key}": str(value) for key, value in settings.items()})
    return env
