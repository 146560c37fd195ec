"""Settings: queue_app/defaults.py, then $QUEUE_APP_CONFIG, then QUEUE_APP_* env."""

from __future__ import annotations

import ipaddress
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

ENV_PREFIX = "QUEUE_APP"


def load_config(app: Flask, test_config: dict[str, Any] | None = None) -> None:
    """Fill app.config from the three layers and derive the SQLAlchemy settings."""
    # The defaults ship inside the package, so an installed wheel finds them.
    app.config.from_object("queue_app.defaults")
    default_public_url = app.config["PUBLIC_URL"]
    config_file = os.environ.get(f"{ENV_PREFIX}_CONFIG")
    if config_file:
        app.config.from_pyfile(os.path.abspath(config_file))
    app.config.from_prefixed_env(ENV_PREFIX)
    if test_config:
        app.config.update(test_config)

    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))

    url = app.config.get("DATABASE_URL") or (f"sqlite:///{Path(app.instance_path) / 'guichet.db'}")
    url = normalize_database_url(url)
    app.config["DATABASE_URL"] = url
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    # `queue-app run --port` may then adapt the links it prints and serves.
    app.config["PUBLIC_URL_IS_DEFAULT"] = app.config["PUBLIC_URL"] == default_public_url
    app.config["PUBLIC_URL"] = str(app.config["PUBLIC_URL"]).rstrip("/")
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    _cookie_settings(app.config)
    app.config["BABEL_DEFAULT_LOCALE"] = app.config["LANGUAGES"][0]
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(Path(__file__).parent.parent / "translations")
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        app.config["RATELIMIT_STORAGE_URI"] = app.config.get("REDIS_URL") or "memory://"
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    if not app.config.get("SMS_CONSOLE_PATH"):
        app.config["SMS_CONSOLE_PATH"] = str(Path(app.instance_path) / "sms-console.jsonl")
    # Limits declared with @limiter.limit keep working, in memory, while Redis is down.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    if str(app.config["RATELIMIT_STORAGE_URI"]).startswith(("redis://", "rediss://")):
        from ..realtime.redis_publish import fail_fast_options

        app.config["RATELIMIT_STORAGE_OPTIONS"] = {
            **fail_fast_options(),
            **(app.config.get("RATELIMIT_STORAGE_OPTIONS") or {}),
        }


def _cookie_settings(config: Any) -> None:
    """Secure, HttpOnly and SameSite alike on the session and "stay signed in" cookies."""
    secure = config.get("SESSION_COOKIE_SECURE")
    if secure is None:
        secure = str(config["PUBLIC_URL"]).startswith("https://")
    config["SESSION_COOKIE_SECURE"] = bool(secure)
    config["WTF_CSRF_SSL_STRICT"] = bool(secure)
    config["REMEMBER_COOKIE_SECURE"] = bool(secure)
    config["REMEMBER_COOKIE_HTTPONLY"] = True
    config["REMEMBER_COOKIE_SAMESITE"] = config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    config["REMEMBER_COOKIE_DURATION"] = timedelta(days=float(config["REMEMBER_DAYS"]))


def normalize_database_url(url: str) -> str:
    """Use the psycopg 3 driver for plain postgresql:// URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_options(config: Any) -> dict[str, Any]:
    """Engine options fitting the database: a pool for PostgreSQL, a busy wait for SQLite."""
    url = config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite"):
        # Writers queue on SQLite's lock instead of failing at once. Every request
        # in flight holds a connection while it waits for the writer's turn: keep
        # as many open as may be in flight (opening one costs its PRAGMAs), not
        # five that are opened and closed again under a burst.
        return {
            "connect_args": {"timeout": 30, "check_same_thread": False},
            "pool_size": int(config["DATABASE_POOL_SIZE"]) + int(config["DATABASE_MAX_OVERFLOW"]),
            "max_overflow": int(config["DATABASE_MAX_OVERFLOW"]),
            "pool_timeout": float(config.get("DATABASE_POOL_TIMEOUT", 10)),
        }
    options: dict[str, Any] = {
        "pool_size": int(config["DATABASE_POOL_SIZE"]),
        "max_overflow": int(config["DATABASE_MAX_OVERFLOW"]),
        # A connection is pinged before use: after a database restart the dead
        # ones are replaced, with no restart of the server. PostgreSQL: only after
        # a second of idleness (database.py), below.
        "pool_pre_ping": True,
        "pool_recycle": 1800,
        "pool_timeout": float(config.get("DATABASE_POOL_TIMEOUT", 10)),
    }
    if url.startswith("postgresql"):
        # An unreachable host fails in seconds, not after the system's TCP timeout.
        options["connect_args"] = {"connect_timeout": int(config["DATABASE_CONNECT_TIMEOUT"])}
        options["pool_pre_ping"] = False  # database.py pings idle connections itself
    return options


def _instance_secret(instance: Path) -> str:
    """Return the generated secret key kept in the instance folder, creating it once."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    # O_EXCL: when two processes start at once, one writes and the other reads.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


class SettingsError(RuntimeError):
    """Settings a production server must not start with."""


def reaches_only_this_machine(url: str) -> bool:
    """Whether a URL names this machine only (loopback, localhost, 0.0.0.0), or no host."""
    try:
        host = (urlsplit(str(url)).hostname or "").rstrip(".").lower()
    except ValueError:
        return True
    if not host or host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def production_problems(config: Any) -> list[str]:
    """What in the settings keeps a production server from serving citizens, in words."""
    problems = []
    public_url = str(config.get("PUBLIC_URL") or "")
    if reaches_only_this_machine(public_url) and not config.get("ALLOW_LOOPBACK_PUBLIC_URL"):
        problems.append(
            f"PUBLIC_URL is {public_url or '(empty)'}: the QR codes on tickets, the tracking "
            "links sent by SMS and the answers to complaints point there, and citizens' "
            "phones cannot open an address of this machine only. Set it to the address "
            "their phones reach, e.g. QUEUE_APP_PUBLIC_URL=https://guichet.example.sn (or "
            "PUBLIC_URL in the file named by QUEUE_APP_CONFIG). To try the production "
            "server on one machine, set QUEUE_APP_ALLOW_LOOPBACK_PUBLIC_URL=true."
        )
    return problems


def check_production_settings(config: Any) -> None:
    """Raise :class:`SettingsError` naming every problem of :func:`production_problems`."""
    problems = production_problems(config)
    if problems:
        raise SettingsError(
            "Guichet will not start with these settings:\n- " + "\n- ".join(problems)
        )
