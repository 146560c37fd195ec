"""The import contracts of .importlinter hold: the domain knows no framework, the
models know no domain, the printer knows no server."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_import_contract_is_kept() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which(
        "lint-imports"
    )
    assert lint is not None, "lint-imports is missing: make install-test"
    result = subprocess.run(
        [lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for name in (
        "domain knows no framework",
        "domain imports nothing above it",
        "models import no domain",
        "printer imports no server",
    ):
        assert f"{name} KEPT" in result.stdout
