"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app
from sqlalchemy import text

from ..extensions import db
from ..infra.outages import is_unavailable, note_failure

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[dict, int]:
    """200 while the process runs."""
    return {"status": "ok"}, 200


@bp.get("/readyz")
def readyz() -> tuple[dict, int, dict[str, str]]:
    """200 only when the database (and Redis, when configured) answer; else 503.

    Probes come every few seconds: an outage is logged once (queue_app.infra.outages,
    queue_app.realtime.redis_queue), not at every probe.
    """
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:
        if is_unavailable(error):
            note_failure(error)
        else:
            log.warning("readiness: database check failed", exc_info=True)
        checks["database"] = "unreachable"
    finally:
        try:
            db.session.rollback()
        except Exception:
            db.session.remove()
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        from ..realtime.redis_publish import redis_client

        client = redis_client(redis_url)
        try:
            client.ping()
            checks["redis"] = "ok"
        except Exception:
            checks["redis"] = "unreachable"
        finally:
            client.close()
    ready = all(value == "ok" for value in checks.values())
    retry = {} if ready else {"Retry-After": str(current_app.config["UNAVAILABLE_RETRY_AFTER"])}
    return (
        {"status": "ok" if ready else "unavailable", "checks": checks},
        200 if ready else 503,
        retry,
    )
