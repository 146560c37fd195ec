"""Backups and restores of the whole database, while the server runs.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies the file
page by page in one consistent read, writers going on meanwhile; the copy is a
SQLite file. PostgreSQL: ``pg_dump --format=custom`` reads everything in one
snapshot (a repeatable-read transaction), and ``pg_restore`` loads it. Either
way the copy holds every table: tickets and their events, the per-day number
sequences (so numbering goes on after a restore), appointments, settings,
users, devices, the outbox and the spool.

A backup is written beside its final name and renamed when complete: a file
under the final name is always a whole backup.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, Engine, make_url

log = logging.getLogger(__name__)

# Names of nightly backups: guichet-20261208T023000Z.db (SQLite) or .dump (PostgreSQL).
NIGHTLY = re.compile(r"^guichet-(\d{8}T\d{6}Z)\.(db|dump)$")


class BackupError(RuntimeError):
    """A backup or restore could not be made (the message says why, for the operator)."""


def suffix_for(url: str | URL) -> str:
    """The file suffix of a backup of this database: .db (SQLite) or .dump (PostgreSQL)."""
    return ".db" if make_url(url).get_backend_name() == "sqlite" else ".dump"


def backup(url: str | URL, path: Path) -> Path:
    """Write a consistent copy of the whole database to ``path`` (a file); returns it."""
    url = make_url(url)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        if url.get_backend_name() == "sqlite":
            _sqlite_backup(_sqlite_file(url), partial)
        elif url.get_backend_name() == "postgresql":
            _run(
                _pg_tool("pg_dump", url),
                [
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={partial}",
                ],
                url,
            )
        else:
            raise BackupError(f"no backup for {url.get_backend_name()} databases")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def restore(engine: Engine, path: Path) -> None:
    """Load the backup at ``path`` into the (empty) database of ``engine``.

    Refused when the database holds any row of Guichet's (a site, a ticket, a
    user...): a restore never mixes two offices' data. A schema without rows
    (``queue-app init-db`` ran) is replaced by the backup's.
    """
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path}: no such backup file")
    url = engine.url
    holding = _tables_with_rows(engine)
    if holding:
        raise BackupError(
            "the database is not empty (rows in "
            + ", ".join(sorted(holding)[:5])
            + "): restore into a new, empty database"
        )
    if url.get_backend_name() == "sqlite":
        if path.read_bytes()[:16] != b"SQLite format 3\x00":
            raise BackupError(f"{path} is not a SQLite backup")
        engine.dispose()
        target = _sqlite_file(url)
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        destination = sqlite3.connect(target)
        try:
            with destination:
                source.backup(destination)
        finally:
            source.close()
            destination.close()
    elif url.get_backend_name() == "postgresql":
        if path.read_bytes()[:5] != b"PGDMP":
            raise BackupError(f"{path} is not a pg_dump (custom format) backup")
        tables = _guichet_tables(engine)
        engine.dispose()
        arguments = ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
        if tables:
            # An empty schema made by init-db: the backup's own replaces it.
            arguments += ["--clean", "--if-exists"]
        _run(_pg_tool("pg_restore", url), [*arguments, f"--dbname={_dbname(url)}", str(path)], url)
    else:
        raise BackupError(f"no restore for {url.get_backend_name()} databases")


def nightly_name(url: str | URL, now: datetime) -> str:
    return f"guichet-{now.strftime('%Y%m%dT%H%M%SZ')}{suffix_for(url)}"


def nightly_backups(folder: Path) -> list[Path]:
    """The nightly backups in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_file() and NIGHTLY.match(p.name)]
    return sorted(found, key=lambda p: NIGHTLY.match(p.name)[1])  # type: ignore[index]


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` nightly backups; returns the deleted ones."""
    backups = nightly_backups(folder)
    removed = backups[: max(len(backups) - keep, 0)]
    for old in removed:
        old.unlink(missing_ok=True)
    return removed


# --- SQLite -------------------------------------------------------------------------------


def _sqlite_file(url: URL) -> str:
    database = url.database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return database


def _sqlite_backup(source_file: str, destination: Path) -> None:
    if not Path(source_file).is_file():
        raise BackupError(f"{source_file}: no such database file")
    # Read-only: the backup takes no write lock; the server's writers go on.
    source = sqlite3.connect(f"file:{source_file}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(destination)
    try:
        # In steps of 1,000 pages: a write in between restarts the copy of a
        # changed file, so the result is one consistent state either way.
        source.backup(target, pages=1000)
        target.execute("PRAGMA journal_mode=DELETE")
        check = target.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"the copy failed its check: {check}")
    finally:
        target.close()
        source.close()


# --- PostgreSQL ---------------------------------------------------------------------------


def _dbname(url: URL) -> str:
    """A libpq connection string of the URL, the password left to PGPASSWORD."""
    parts = {
        "host": url.host or "",
        "port": str(url.port or ""),
        "user": url.username or "",
        "dbname": url.database or "",
    }
    parts.update({k: str(v) for k, v in url.query.items() if k in ("sslmode", "sslrootcert")})
    return " ".join(f"{key}='{_quote(value)}'" for key, value in parts.items() if value)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _run(tool: str, arguments: list[str], url: URL) -> None:
    environment = dict(os.environ)
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    if Path(tool).name == "pg_dump":
        arguments = [*arguments, f"--dbname={_dbname(url)}"]
    completed = subprocess.run(  # noqa: S603 - our own arguments, no shell
        [tool, *arguments], env=environment, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        message = (completed.stderr or completed.stdout).strip().splitlines()
        raise BackupError(f"{Path(tool).name} failed: {' / '.join(message[-3:])}")


def server_major(url: URL) -> int | None:
    """The PostgreSQL server's major version (16 for 16.4), None if it cannot be asked."""
    from sqlalchemy import create_engine

    engine = create_engine(url.set(drivername="postgresql+psycopg"), poolclass=_null_pool())
    try:
        with engine.connect() as connection:
            number = int(connection.execute(text("SHOW server_version_num")).scalar_one())
    except Exception:
        return None
    finally:
        engine.dispose()
    return number // 10000


def _null_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool


def tool_major(tool: str) -> int | None:
    """The major version of a pg_dump or pg_restore binary."""
    try:
        output = subprocess.run(  # noqa: S603
            [tool, "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    match = re.search(r"(\d+)(?:\.\d+)?", output)
    return int(match[1]) if match else None


def _pg_tool(name: str, url: URL) -> str:
    """pg_dump or pg_restore of the server's major version (or newer), else an error.

    PG_BIN_DIR (settings) first; then /usr/lib/postgresql/<server major>/bin (Debian's
    layout, several versions side by side); then PATH.
    """
    from flask import current_app, has_app_context

    major = server_major(url)
    candidates = []
    if has_app_context() and current_app.config.get("PG_BIN_DIR"):
        candidates.append(Path(current_app.config["PG_BIN_DIR"]) / name)
    if major is not None:
        candidates.append(Path(f"/usr/lib/postgresql/{major}/bin") / name)
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    seen = []
    for candidate in candidates:
        if not candidate.is_file():
            continue
        version = tool_major(str(candidate))
        seen.append(f"{candidate} ({version})")
        # pg_dump refuses a newer server; pg_restore reads dumps of its version or older.
        if major is None or (version is not None and version >= major):
            return str(candidate)
    raise BackupError(
        f"no {name} of PostgreSQL {major} or newer (found: {', '.join(seen) or 'none'}); "
        "install postgresql-client-{major} or set PG_BIN_DIR".replace("{major}", str(major))
    )


# --- emptiness ----------------------------------------------------------------------------


def _guichet_tables(engine: Engine) -> list[str]:
    from ..models import Base

    present = set(inspect(engine).get_table_names())
    return [table.name for table in Base.metadata.sorted_tables if table.name in present]


def _tables_with_rows(engine: Engine) -> list[str]:
    holding = []
    tables = _guichet_tables(engine)
    if not tables:
        return []
    with engine.connect() as connection:
        for table in tables:
            if connection.execute(text(f'SELECT 1 FROM "{table}" LIMIT 1')).first():  # noqa: S608
                holding.append(table)
    return holding
