"""The lock files pin every dependency pyproject.toml names (`make install` installs them).

A dependency added to pyproject.toml without `make lock` would be missing from a
fresh install, which installs from requirements/*.lock.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    """A requirement's project name, normalised as the lock writes it."""
    name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)
    return re.sub(r"[-_.]+", "-", name).lower()


def _pinned(lock: str) -> set[str]:
    text = (ROOT / "requirements" / lock).read_text()
    return {_name(line) for line in text.splitlines() if re.match(r"^[A-Za-z0-9].*==", line)}


def _declared(*extras: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"]}
    for extra in extras:
        names |= {_name(r) for r in project["optional-dependencies"][extra]}
    return names - {"guichet-printer"}  # the local project, installed from printer/


@pytest.mark.parametrize(("lock", "extras"), [("install.lock", ()), ("test.lock", ("test",))])
def test_every_declared_dependency_is_pinned(lock, extras):
    missing = _declared(*extras) - _pinned(lock)
    assert not missing, f"run `make lock`: {sorted(missing)} not in requirements/{lock}"
