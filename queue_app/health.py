"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app
from sqlalchemy import text

from .extensions import db

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[dict, int]:
    """200 while the process runs."""
    return {"status": "ok"}, 200


@bp.get("/readyz")
def readyz() -> tuple[dict, int]:
    """200 only when the database (and Redis, when configured) answer."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:
        log.warning("readiness: database unreachable", exc_info=True)
        checks["database"] = "unreachable"
    finally:
        db.session.rollback()
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        import redis

        try:
            client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
            client.ping()
            client.close()
            checks["redis"] = "ok"
        except Exception:
            log.warning("readiness: redis unreachable", exc_info=True)
            checks["redis"] = "unreachable"
    ready = all(value == "ok" for value in checks.values())
    return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503
