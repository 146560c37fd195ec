"""The nightly backup: once a day after BACKUP_TIME, keeping the newest BACKUP_KEEP."""

from __future__ import annotations

import logging
from datetime import datetime, time
from pathlib import Path

from flask import current_app

from ..models import utcnow
from ..ops import backup as backups

log = logging.getLogger(__name__)


def backup_folder() -> Path:
    """BACKUP_DIR, else the folder "backups" of the instance folder."""
    configured = current_app.config.get("BACKUP_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "backups"


def run(now: datetime | None = None) -> str | None:
    """Take today's backup when its time has come and none exists; prune the old ones.

    Checked every few minutes by the scheduler, so a worker started (or restarted)
    after BACKUP_TIME still takes the day's backup, once: the day's file is the mark.
    Returns the file written, as text (a job's result is reported as JSON), or None.
    """
    config = current_app.config
    keep = int(config.get("BACKUP_KEEP") or 0)
    if keep <= 0:
        return None
    now = now or utcnow()
    due = time.fromisoformat(str(config.get("BACKUP_TIME") or "02:30"))
    if now.time().replace(tzinfo=None) < due:
        return None
    folder = backup_folder()
    today = now.strftime("%Y%m%d")
    if any(path.name.startswith(f"guichet-{today}T") for path in backups.nightly_backups(folder)):
        return None
    url = config["DATABASE_URL"]
    path = folder / backups.nightly_name(url, now)
    try:
        backups.backup(url, path)
    except backups.BackupError as error:
        # Retried at the next check; said once per failing check, without a traceback.
        log.error("nightly backup failed: %s", error)
        return None
    removed = backups.prune(folder, keep)
    log.info(
        "nightly backup written: %s (%d bytes); %d older one(s) removed",
        path,
        path.stat().st_size,
        len(removed),
    )
    return str(path)
