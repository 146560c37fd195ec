"""PUBLIC_URL must be an address citizens' phones reach: said by the demo, checked in production."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from queue_app import create_app
from queue_app.infra.config import SettingsError, check_production_settings

from .conftest import base_config, dispose
from .test_cli import invoke

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5000",
        "http://localhost:5000",
        "https://LOCALHOST",
        "http://guichet.localhost:8000",
        "http://[::1]:5000",
        "http://0.0.0.0:5000",
        "http://127.1.2.3",
        "",
        "not a url",
    ],
)
def test_production_refuses_a_public_url_of_this_machine_only(url):
    with pytest.raises(SettingsError, match="PUBLIC_URL") as refused:
        check_production_settings({"PUBLIC_URL": url})
    assert "QUEUE_APP_PUBLIC_URL=" in str(refused.value)


@pytest.mark.parametrize(
    "url", ["https://guichet.example.sn", "http://192.168.1.20:5000", "http://10.0.0.5"]
)
def test_production_accepts_an_address_phones_reach(url):
    check_production_settings({"PUBLIC_URL": url})


def test_trying_the_production_server_on_one_machine_is_said_explicitly():
    check_production_settings(
        {"PUBLIC_URL": "http://127.0.0.1:8000", "ALLOW_LOOPBACK_PUBLIC_URL": True}
    )


@pytest.fixture
def app_with(tmp_path):
    made = []

    def build(public_url):
        config = base_config(tmp_path, f"sqlite:///{tmp_path / 'c.db'}")
        config["PUBLIC_URL"] = public_url
        made.append(create_app(config))
        return made[-1]

    yield build
    for application in made:
        dispose(application)


def test_check_settings_command(app_with):
    refused = invoke(app_with("http://localhost:5000"), "check-settings")
    assert refused.exit_code == 1
    assert "PUBLIC_URL is http://localhost:5000" in refused.output
    assert "phones cannot open" in refused.output
    fine = invoke(app_with("https://guichet.example.sn"), "check-settings")
    assert fine.exit_code == 0, fine.output
    assert "Settings fit production" in fine.output


@pytest.mark.parametrize(
    ("lan", "example"),
    [("192.168.1.42", "http://192.168.1.42:5000"), (None, "http://192.168.1.20:5000")],
)
def test_the_demo_says_phones_cannot_open_127_0_0_1_and_how_to_fix_it(
    app_with, monkeypatch, lan, example
):
    # This computer's address on its network (none: an example, and where to read it).
    monkeypatch.setattr("queue_app.cli.commands._lan_address", lambda: lan)
    output = invoke(app_with("http://127.0.0.1:5000"), "demo", "--no-history").output
    assert "QR codes on tickets and links in SMS point to http://127.0.0.1:5000" in output
    assert "this computer only: a phone scanning a ticket cannot open it" in output
    assert f"QUEUE_APP_PUBLIC_URL={example} make demo HOST=0.0.0.0 PORT=5000" in output
    assert ("ip addr shows it" in output) == (lan is None)


def test_the_demo_with_a_reachable_public_url_says_so(app_with):
    output = invoke(app_with("http://192.168.1.20:5000"), "demo", "--no-history").output
    assert "point to http://192.168.1.20:5000" in output
    assert "phones must reach that address" in output
    assert "this computer only" not in output


def _load_wsgi(tmp_path, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_APP_")}
    clean.update(QUEUE_APP_INSTANCE_PATH=str(tmp_path / "instance"), **env)
    return subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_production_server_will_not_start_with_the_default_public_url(tmp_path):
    refused = _load_wsgi(tmp_path)
    assert refused.returncode != 0
    assert "Guichet will not start with these settings" in refused.stderr
    assert "PUBLIC_URL is http://127.0.0.1:5000" in refused.stderr

    served = _load_wsgi(tmp_path, QUEUE_APP_PUBLIC_URL="https://guichet.example.sn")
    assert served.returncode == 0, served.stderr
