"""The documentation builds, and every document the code names is there.

The docs (docs/, mkdocs.yml) are built as `make docs` builds them, with
``mkdocs build --strict``: a broken link, a missing page of the navigation or an
anchor that no heading makes fails the build. Comments, docstrings and messages
that cite a document (``docs/operations/printers.md``, "invariant 3") must name
one that exists, and never a document outside the repository.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# Where the code and its examples live (not the docs themselves, nor vendored files).
SOURCES = [
    *ROOT.glob("queue_app/**/*.py"),
    *ROOT.glob("queue_app/templates/**/*.html"),
    *ROOT.glob("printer/guichet_printer/*.py"),
    *ROOT.glob("display/**/*.py"),
    *ROOT.glob("display/templates/**/*.html"),
    *ROOT.glob("display/static/**/*.js"),
    *ROOT.glob("tests/*.py"),
    *ROOT.glob("bench/*.py"),
    *ROOT.glob("config/*"),
    ROOT / "Makefile",
    ROOT / "wsgi.py",
    ROOT / "pyproject.toml",
    ROOT / ".ci" / "run",
    ROOT / "README.md",
]

DOC_PATH = re.compile(r"\bdocs/[\w./-]+?\.md\b")
INVARIANT = re.compile(r"\binvariants? (\d+)(?: and (\d+))?", re.IGNORECASE)
OUTSIDE = re.compile(r"\b(?:ARCHITECTURE|API|STYLE)\.md\b")
TRACKER = re.compile(r"\(issue #?\d+|\bissue #\d+|\bissue \d+, item", re.IGNORECASE)


def _sources() -> dict[Path, str]:
    this = Path(__file__).resolve()
    return {
        path: path.read_text(encoding="utf-8", errors="replace")
        for path in SOURCES
        if path.is_file() and path.resolve() != this
    }


def test_the_documentation_builds_strictly(tmp_path: Path) -> None:
    """`mkdocs build --strict` passes: no broken link, page or anchor."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(tmp_path / "site"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "architecture.html").is_file()


def test_every_document_the_code_names_exists() -> None:
    named = {
        (path.relative_to(ROOT), match)
        for path, text in _sources().items()
        for match in DOC_PATH.findall(text)
    }
    assert named, "the code names no document: the pattern is wrong"
    missing = sorted((str(path), doc) for path, doc in named if not (ROOT / doc).is_file())
    assert missing == []


def test_no_code_cites_a_document_outside_the_repository() -> None:
    outside = sorted(
        f"{path.relative_to(ROOT)}: {match}"
        for path, text in _sources().items()
        for match in OUTSIDE.findall(text)
    )
    assert outside == []


def test_every_invariant_the_code_cites_is_written_down() -> None:
    architecture = (DOCS / "architecture.md").read_text(encoding="utf-8")
    written = {int(n) for n in re.findall(r"^(\d+)\. \*\*", architecture, re.MULTILINE)}
    assert written, "docs/architecture.md numbers no invariant"
    cited = {
        int(number)
        for text in _sources().values()
        for match in INVARIANT.findall(text)
        for number in match
        if number
    }
    assert cited, "the code cites no invariant: the pattern is wrong"
    assert cited <= written, f"cited but not in docs/architecture.md: {sorted(cited - written)}"


def test_no_tracker_numbers_in_code_or_tests() -> None:
    """Code and tests say what they check, not which ticket of a tracker asked for it."""
    found = sorted(
        f"{path.relative_to(ROOT)}: {match}"
        for path, text in _sources().items()
        if path.name != "README.md"
        for match in TRACKER.findall(text)
    )
    assert found == []


# Paths the docs name that a build makes (git-ignored): `make voice` writes the clips.
GENERATED = ("display/static/voice/",)
CODE_PATH = re.compile(r"`((?:queue_app|printer|display|tests|bench|config)/[\w./-]*)")


def test_every_file_the_docs_name_exists() -> None:
    """A page that names a module, test or example names one that is there."""
    pages = [ROOT / "README.md", *DOCS.rglob("*.md")]
    named = {
        (page.relative_to(ROOT), path)
        for page in pages
        for path in CODE_PATH.findall(page.read_text(encoding="utf-8"))
    }
    assert named, "the docs name no file: the pattern is wrong"
    missing = sorted(
        (str(page), path)
        for page, path in named
        if not path.startswith(GENERATED) and not (ROOT / path).exists()
    )
    assert missing == []


def test_the_readme_is_read_in_one_pass_and_points_into_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 300
    links = re.findall(r"\]\((docs/[^)#]+)(?:#[^)]*)?\)", readme)
    assert links, "the README links to no page of docs/"
    assert [link for link in links if not (ROOT / link).is_file()] == []
    for command in ("make demo", "make test"):
        assert command in readme


def _settings_of_defaults() -> set[str]:
    """The UPPERCASE names assigned at the top level of queue_app/defaults.py."""
    import ast

    tree = ast.parse((ROOT / "queue_app" / "defaults.py").read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            elements = target.elts if isinstance(target, ast.Tuple) else [target]
            names.update(
                element.id
                for element in elements
                if isinstance(element, ast.Name) and element.id.isupper()
            )
    return names


def test_every_setting_of_the_defaults_is_documented() -> None:
    """docs/operations/settings.md names every setting queue_app/defaults.py assigns."""
    settings = _settings_of_defaults()
    assert len(settings) > 50, "defaults.py assigns no setting: the parser is wrong"
    page = (DOCS / "operations" / "settings.md").read_text(encoding="utf-8")
    written = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", page))
    assert sorted(settings - written) == []


def test_every_command_is_documented() -> None:
    """docs/operations/cli.md names every command registered on `queue-app`."""
    from queue_app.cli.commands import cli

    commands = set(cli.commands)
    assert {"init-db", "demo", "run", "worker"} <= commands
    page = (DOCS / "operations" / "cli.md").read_text(encoding="utf-8")
    written = set(re.findall(r"`queue-app ([a-z][a-z-]*)", page))
    assert sorted(commands - written) == []
