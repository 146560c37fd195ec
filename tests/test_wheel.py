"""The built wheel, installed in a fresh virtualenv away from the source tree, runs the demo."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)  # type: ignore[call-overload]
    output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"{' '.join(args)}\n{output}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel built from this checkout; returns its bin folder."""
    folder = tmp_path_factory.mktemp("wheel")
    dist = folder / "dist"
    for source in (ROOT, ROOT / "printer"):
        build = _run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--quiet",
                "-w",
                str(dist),
                str(source),
            ]
        )
        # The SPDX license string builds without setuptools' deprecation warnings.
        assert "deprecat" not in (build.stdout + build.stderr).lower()
    wheels = list(dist.glob("guichet-0*.whl"))
    assert len(wheels) == 1, wheels
    import zipfile

    shipped = set(zipfile.ZipFile(wheels[0]).namelist())
    # Every catalogue compiled (make i18n-compile), the Wolof one of the SMS included.
    for language in ("fr", "wo"):
        assert f"queue_app/translations/{language}/LC_MESSAGES/messages.mo" in shipped
    venv = folder / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    # The releases the lock file names (the wheel's own ranges allow newer ones), as
    # constraints: its editable lines (this checkout) are left out.
    constraints = folder / "constraints.txt"
    locked = (ROOT / "requirements" / "install.lock").read_text().splitlines()
    constraints.write_text("\n".join(line for line in locked if "==" in line) + "\n")
    # guichet-printer, the server's printing dependency, from the wheel built beside it.
    _run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--find-links", str(dist)]
        + ["--constraint", str(constraints), str(wheels[0])]
    )
    return venv / "bin"


@pytest.mark.slow
def test_the_installed_wheel_runs_the_demo_office(installed: Path, tmp_path: Path) -> None:
    import requests

    work = tmp_path / "elsewhere"  # not the checkout: nothing may be read from the source tree
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_APP_")}
    env.update(
        QUEUE_APP_INSTANCE_PATH=str(work / "instance"),
        PYTHONPATH="",
        PATH=f"{installed}:{env.get('PATH', '')}",
    )
    queue_app = str(installed / "queue-app")
    init = _run([queue_app, "init-db"], cwd=work, env=env)
    assert "Database ready" in init.stdout
    demo = _run([queue_app, "demo", "--no-history"], cwd=work, env=env)
    kiosk = re.search(r"kiosk\s+.*?(gd_\w+)", demo.stdout)
    assert kiosk is not None, demo.stdout
    display_url = re.search(r"Display \(TV\)\s+\S+(/display/demo\?token=gd_\w+)", demo.stdout)
    assert display_url is not None, demo.stdout
    port = _free_port()
    server = subprocess.Popen(
        [queue_app, "run", "--port", str(port), "--no-scheduler"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                ready = requests.get(f"{base}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the installed server did not become ready"
            time.sleep(0.1)
        assert ready.json()["checks"] == {"database": "ok"}
        # Templates, compiled French catalogue and static files come from the wheel.
        login = requests.get(f"{base}/login", timeout=5)
        assert "Se connecter" in login.text
        assert requests.get(f"{base}/static/vendor/socket.io.min.js", timeout=5).status_code == 200
        ticket = requests.post(
            f"{base}/api/v1/sites/demo/tickets",
            json={"service": "CNI"},
            headers={"Authorization": f"Bearer {kiosk.group(1)}"},
            timeout=5,
        )
        assert ticket.status_code == 201, ticket.text
        assert ticket.json()["label"] == "B-001"
        # The touch kiosk (page, script, pictograms) and its printer, from the wheel too.
        assert re.search(r"Touch kiosk\s+\S+/kiosk/demo\?token=gd_", demo.stdout), demo.stdout
        page = requests.get(f"{base}/kiosk/demo", params={"token": kiosk.group(1)}, timeout=5)
        assert page.status_code == 200
        assert "Touchez le service qui vous amène" in page.text
        assert "<svg" in page.text
        assert requests.get(f"{base}/display/static/kiosk/kiosk.js", timeout=5).status_code == 200
        qr = requests.get(f"{base}/kiosk/qr/{ticket.json()['code']}.svg", timeout=5)
        assert qr.headers["Content-Type"].startswith("image/svg+xml")
        paper = work / "instance" / "kiosk-printer.escpos"
        deadline = time.monotonic() + 30
        while not (paper.exists() and b"B-001" in paper.read_bytes()):
            assert time.monotonic() < deadline, "the demo kiosk's ticket was not printed"
            time.sleep(0.1)
        assert b"Espace S\xe9n\xe9gal Services \x97 Thi\xe8s" in paper.read_bytes()
        # The display front end (display/), its chime and the built-in French voice.
        page = requests.get(f"{base}{display_url.group(1)}", timeout=5)
        assert page.status_code == 200
        assert "Appel en cours" in page.text
        for asset, kind in (
            ("/display/static/tv/display.js", "javascript"),
            ("/display/static/tv/display.css", "css"),
            ("/display/static/tablet/feedback.js", "javascript"),
            ("/display/static/sounds/chime.ogg", "ogg"),
            ("/display/static/voice/fr/ticket.ogg", "ogg"),
            ("/display/static/voice/fr/number-42.ogg", "ogg"),
        ):
            answer = requests.get(f"{base}{asset}", timeout=5)
            assert answer.status_code == 200, asset
            assert kind in answer.headers["Content-Type"], asset
            assert len(answer.content) > 100, asset
    finally:
        server.terminate()
        try:
            server.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate(timeout=10)
