"""Hundreds of idle sockets do not freeze the server started as docs/operations/production.md says.

The documented production command (gunicorn, gevent worker) serves the demo
office; the test holds several hundred WebSockets open, anonymous (tracking
pages) and display ones, and the API must keep answering within a bound. One
address may not hold more than SOCKETIO_MAX_CONNECTIONS_PER_ADDRESS.
The sockets are raw Engine.IO/Socket.IO v4 WebSockets (websocket-client): no
thread per socket in the test process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .test_realtime import _free_port

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
IDLE = 300  # half anonymous, half displays
API_BOUND = 5.0  # seconds: an answer while the sockets are open, never a pause


@dataclass
class Served:
    url: str
    display_token: str
    kiosk_token: str
    log: Path


def gunicorn_command(port: int) -> list[str]:
    """The production command of docs/operations/production.md, on a test port."""
    return [
        str(BIN / "gunicorn"),
        "-k",
        "gevent",
        "-w",
        "1",
        "--worker-connections",
        "10000",
        "-b",
        f"127.0.0.1:{port}",
        "--chdir",
        str(ROOT),
        "wsgi:app",
    ]


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Served]:
    limit = getattr(request, "param", 1000)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_APP_")}
    env.update(
        QUEUE_APP_INSTANCE_PATH=str(tmp_path / "instance"),
        QUEUE_APP_SECRET_KEY="many-sockets-secret",
        QUEUE_APP_LOG_LEVEL="WARNING",
        QUEUE_APP_SOCKETIO_MAX_CONNECTIONS_PER_ADDRESS=str(limit),
        # The production command on this machine only (wsgi.py refuses it otherwise).
        QUEUE_APP_ALLOW_LOOPBACK_PUBLIC_URL="true",
    )
    demo = subprocess.run(
        [str(BIN / "queue-app"), "demo", "--no-history"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stderr
    tokens = dict(re.findall(r"^\s+(kiosk|display)\s+.*?(gd_\w+)\s*$", demo.stdout, re.M))
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            gunicorn_command(port), env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        import requests

        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                if requests.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass  # still starting
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        yield Served(url, tokens["display"], tokens["kiosk"], log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def open_socket(url: str, token: str | None = None, timeout: float = 10) -> object:
    """A Socket.IO v4 client over a raw WebSocket, connected to the default namespace."""
    import websocket

    ws = websocket.create_connection(
        url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket", timeout=timeout
    )
    opened = ws.recv()
    assert opened.startswith("0{"), opened
    ws.send("40" + (json.dumps({"token": token}) if token else ""))
    while True:
        packet = ws.recv()
        if packet == "2":  # a ping before the connect answer
            ws.send("3")
            continue
        assert packet.startswith("40{"), packet
        return ws


def test_hundreds_of_idle_sockets_leave_the_api_answering(served: Served):
    import requests

    sockets = []
    try:
        for n in range(IDLE):
            sockets.append(open_socket(served.url, served.display_token if n % 2 else None))
        kiosk = {"Authorization": f"Bearer {served.kiosk_token}"}
        with requests.Session() as http:
            for _ in range(20):
                # Each answer within API_BOUND (the requests' timeout), none refused.
                health = http.get(f"{served.url}/healthz", timeout=API_BOUND)
                ticket = http.post(
                    f"{served.url}/api/v1/sites/demo/tickets",
                    json={"service": "CNI"},
                    headers=kiosk,
                    timeout=API_BOUND,
                )
                assert health.status_code == 200
                assert ticket.status_code == 201, ticket.text
            board = http.get(
                f"{served.url}/api/v1/sites/demo/board",
                headers={"Authorization": f"Bearer {served.display_token}"},
                timeout=API_BOUND,
            )
        assert board.json()["waiting"]["CNI"] == 20
        # Every socket is still open and hears the queue move (the displays do).
        displays = sockets[1::2]
        import websocket

        heard = 0
        for ws in displays:
            ws.settimeout(10)
            while True:
                try:
                    packet = ws.recv()
                except websocket.WebSocketTimeoutException:
                    break
                if packet == "2":
                    ws.send("3")
                    continue
                if packet.startswith('42["queue_changed"'):
                    heard += 1
                    break
        assert heard == len(displays)
    finally:
        for ws in sockets:
            ws.close()


@pytest.mark.parametrize("served", [20], indirect=True)
def test_one_address_may_not_hold_more_than_the_bound(served: Served):
    import websocket

    sockets = [open_socket(served.url) for _ in range(20)]
    try:
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            open_socket(served.url)
        assert refused.value.status_code == 429
        # The API is not counted, and a closed socket gives its place back.
        import requests

        assert requests.get(f"{served.url}/healthz", timeout=API_BOUND).status_code == 200
        sockets.pop().close()
        deadline = time.monotonic() + 10
        while True:
            try:
                sockets.append(open_socket(served.url))
                break
            except websocket.WebSocketBadStatusException:
                assert time.monotonic() < deadline, "the closed socket's place never came back"
                time.sleep(0.05)
    finally:
        for ws in sockets:
            ws.close()
