"""`make demo` / `make test` install Debian packages only saying what and why, and never prompt.

The Makefile's apt steps run here against fake `id`, `sudo` and `apt-get` on a PATH
without espeak-ng, sox or Chromium: as a user whose sudo wants a password (or who
has no sudo), as a user with password-less sudo, and as root (CI).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAKE = shutil.which("make")
REAL_TOOLS = ("env", "sleep", "touch", "grep", "cat", "mkdir", "dirname", "true")

pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def fake(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


@pytest.fixture
def machine(tmp_path):
    """A PATH of fake system tools; returns run(target, uid, sudo, *make_args)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in REAL_TOOLS:
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    log = tmp_path / "calls.log"
    log.touch()
    fake(bin_dir, "id", 'if [ "$1" = -u ]; then echo "$FAKE_UID"; else echo "uid=$FAKE_UID"; fi\n')
    fake(bin_dir, "apt-get", f'echo "apt-get $*" >> {log}\nexit "${{FAKE_APT_STATUS:-0}}"\n')

    def run(target, *, uid, sudo, apt_status=0, extra=()):
        sudo_path = bin_dir / "sudo"
        if sudo_path.exists():
            sudo_path.unlink()
        if sudo == "password":
            # A sudo that asks for a password: -n fails; without -n it would prompt.
            fake(
                bin_dir,
                "sudo",
                f'echo "sudo $*" >> {log}\n'
                'if [ "$1" = -n ]; then echo "sudo: a password is required" >&2; exit 1; fi\n'
                'printf "[sudo] password for you: " >&2\nread -r answer\nexit 1\n',
            )
        elif sudo == "nopasswd":
            fake(bin_dir, "sudo", f'echo "sudo $*" >> {log}\n[ "$1" = -n ] && shift\nexec "$@"\n')
        env = {
            "PATH": str(bin_dir),
            "HOME": str(tmp_path),
            "FAKE_UID": str(uid),
            "FAKE_APT_STATUS": str(apt_status),
            "APT_RETRIES": "2",
            "APT_RETRY_SECONDS": "0",
        }
        done = subprocess.run(
            [MAKE, "--no-print-directory", "-C", str(ROOT), target, *extra],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done, log.read_text().splitlines()

    return run


def voice_args(tmp_path):
    return (f"VOICE_DIR={tmp_path / 'voice'}",)


@pytest.mark.parametrize("sudo", ["password", "absent"])
def test_without_root_the_voice_clips_are_skipped_with_an_explanation_and_no_prompt(
    machine, tmp_path, sudo
):
    done, calls = machine("voice", uid=1000, sudo=sudo, extra=voice_args(tmp_path))
    out = done.stdout
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[sudo] password" not in done.stderr
    # What, why, why not, and that it goes on.
    assert (
        "Needed for the displays' built-in voice (recorded clips of the calls, made by "
        "espeak-ng and sox): espeak-ng sox libsox-fmt-base (Debian packages)." in out
    )
    assert "Not installed: installing needs root" in out
    assert ("sudo would ask for a password here" in out) == (sudo == "password")
    assert "as root: apt-get install espeak-ng sox libsox-fmt-base" in out
    assert "Going on without the voice clips" in out
    assert out.index("Needed for") < out.index("Going on without the voice clips")
    assert "Installing them" not in out
    # sudo was only asked whether it needs a password; apt-get never ran.
    assert [c for c in calls if c.startswith("sudo")] == (
        ["sudo -n true"] if sudo == "password" else []
    )
    assert not [c for c in calls if c.startswith("apt-get")]
    assert not (tmp_path / "voice" / ".built").exists()


def test_with_password_less_sudo_apt_runs_through_sudo_unattended(machine, tmp_path):
    done, calls = machine("voice-tools", uid=1000, sudo="nopasswd", extra=voice_args(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "espeak-ng sox libsox-fmt-base (Debian packages)" in done.stdout
    assert "Installing them with sudo -n apt-get…" in done.stdout
    assert "sudo -n apt-get update -qq" in calls
    assert (
        "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
        "espeak-ng sox libsox-fmt-base" in calls
    )


def test_as_root_with_no_stdin_ci_installs_with_apt_get(machine, tmp_path):
    done, calls = machine("voice-tools", uid=0, sudo="password", extra=voice_args(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "espeak-ng sox libsox-fmt-base (Debian packages)" in done.stdout
    assert "Installing them with apt-get…" in done.stdout
    assert calls == [
        "apt-get update -qq",
        "apt-get install -y -qq espeak-ng sox libsox-fmt-base",
    ]


def test_the_test_commands_chromium_step_says_why_and_goes_on_without_root(machine):
    done, calls = machine(
        "browser", uid=1000, sudo="password", extra=("CHROMIUM=/nowhere/chromium",)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "Needed for the browser tests, which drive Chromium (/nowhere/chromium): "
        "chromium fonts-dejavu-core fonts-liberation (Debian packages)." in done.stdout
    )
    assert "Going on without Chromium: the browser tests fail until it is installed." in done.stdout
    assert not [c for c in calls if c.startswith("apt-get")]

    as_root, calls = machine("browser", uid=0, sudo="absent", extra=("CHROMIUM=/nowhere/chromium",))
    assert as_root.returncode == 0
    assert "apt-get install -y -qq chromium fonts-dejavu-core fonts-liberation" in calls


def test_a_failing_apt_get_is_said_and_the_install_goes_on(machine, tmp_path):
    done, calls = machine("voice", uid=0, sudo="absent", apt_status=100, extra=voice_args(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "apt-get could not install espeak-ng sox libsox-fmt-base" in done.stdout
    assert "Going on without the voice clips" in done.stdout
    assert calls.count("apt-get update -qq") == 2  # APT_RETRIES
