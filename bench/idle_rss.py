"""Idle memory of each process kind: the embedded server, one production process, the worker.

Starts each on a fresh SQLite database (the layout does not change what an idle
process holds), waits until it answers /readyz (the worker: a few seconds),
then reads the resident memory (RSS) of its processes from /proc.

    .venv/bin/python bench/idle_rss.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import ROOT, VENV_BIN, free_port, rss_mb, wait_ready  # noqa: E402


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def measure(label: str, command: list[str], env: dict[str, str], url: str | None) -> None:
    process = subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if url:
            wait_ready(url, process)
        time.sleep(3)
        kids = children(process.pid)
        own = rss_mb([process.pid])
        print(
            f"{label:<44}{own:>8.0f} MB"
            + (f"   (+ {len(kids)} worker(s): {rss_mb(kids):.0f} MB)" if kids else "")
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def main() -> None:
    folder = tempfile.mkdtemp(prefix="guichet-rss-")
    env = {
        **os.environ,
        "QUEUE_APP_DATABASE_URL": f"sqlite:///{folder}/rss.db",
        "QUEUE_APP_INSTANCE_PATH": folder,
        "QUEUE_APP_SECRET_KEY": "bench-secret",
        # The production server on this machine only (wsgi.py refuses it otherwise).
        "QUEUE_APP_ALLOW_LOOPBACK_PUBLIC_URL": "true",
        "QUEUE_APP_LOG_LEVEL": "WARNING",
    }
    cli = str(VENV_BIN / "queue-app")
    subprocess.run([cli, "init-db"], env=env, check=True, capture_output=True)
    print(f"{'process (idle, after start-up)':<44}{'RSS':>11}")
    port = free_port()
    measure(
        "embedded: queue-app run (one process, jobs)",
        [cli, "run", "--port", str(port)],
        env,
        f"http://127.0.0.1:{port}",
    )
    port = free_port()
    measure(
        "production: gunicorn -k gevent -w 1 (master)",
        [
            str(VENV_BIN / "gunicorn"),
            "-k",
            "gevent",
            "-w",
            "1",
            "--worker-connections",
            "10000",
            "-b",
            f"127.0.0.1:{port}",
            "wsgi:app",
        ],
        env,
        f"http://127.0.0.1:{port}",
    )
    measure("worker: queue-app worker (scheduler)", [cli, "worker"], env, None)


if __name__ == "__main__":
    main()
