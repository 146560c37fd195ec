"""Guichet: queue and appointment system for public front offices."""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask, request

# Requests that only read: on SQLite their transactions take no write lock.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def create_app(test_config: dict[str, Any] | None = None, *, web: bool = True) -> Flask:
    """Build the application: settings, extensions, blueprints, realtime, errors.

    ``web=False`` builds the worker's app (see :func:`create_worker_app`): the
    database, its hooks, the translations and the realtime emitter, without the
    pages, the API, Socket.IO's server, CSRF, rate limits and error pages.
    """
    from .extensions import babel, db
    from .infra import hotcache, outages
    from .infra.config import load_config
    from .infra.database import configure_engine, read_transaction, set_read_only
    from .infra.i18n import select_locale, translate_message
    from .quality import audit
    from .queue import errors, ports
    from .realtime import events, publish
    from .realtime.publish import build_state

    instance_path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get(
        "QUEUE_APP_INSTANCE_PATH"
    )
    app = Flask(__name__, instance_path=instance_path)
    if web:
        from .api.inputs import install_url_converters

        # Before any route: <int:...> is an id the database holds, <slug> refuses control
        # characters.
        install_url_converters(app)
    load_config(app, test_config)
    _configure_logging(app)

    # First of all hooks: the token check, Flask-Login and every later hook may
    # read the database, and on SQLite the first query decides whether the
    # request's transaction holds the writer lock (database.py).
    @app.before_request
    def _readers_do_not_lock() -> None:
        set_read_only(request.method in SAFE_METHODS)

    @app.teardown_request
    def _reset_read_only(exc: BaseException | None) -> None:
        set_read_only(False)

    from .ops.logs import install_request_ids

    install_request_ids(app)

    db.init_app(app)
    configure_engine(app)
    events.install(db.session)
    # The domain's facts (queue/changes.py) become realtime events at each commit.
    publish.install(db.session)
    hotcache.install(db.session)
    from .printing import worker as print_worker

    print_worker.install(app, db.session)
    audit.install(db.session)
    babel.init_app(app, locale_selector=select_locale)
    # The domain's messages are translated here, at the edge (queue/errors.py), and
    # what it reads through comes from here (queue/ports.py).
    errors.set_translator(translate_message)
    from .display.icons import available_icons

    ports.register(
        cached=hotcache.cached, read_transaction=read_transaction, available_icons=available_icons
    )
    if web:
        from .extensions import csrf, limiter, login_manager
        from .security.lookup_limits import install_lookup_limits
        from .security.ratelimit import install_signin_limits

        login_manager.init_app(app)
        csrf.init_app(app)
        limiter.init_app(app)
        install_signin_limits(app)
        install_lookup_limits(app)

    redis_url = app.config.get("REDIS_URL") or None
    if app.config.get("SOCKETIO_WRITE_ONLY") or not web:
        # The worker pushes through Redis to the server processes' clients.
        from .realtime.redis_publish import RedisEmitter

        emitter = (
            RedisEmitter(
                redis_url,
                channel=str(app.config["SOCKETIO_CHANNEL"]),
                retry_seconds=float(app.config.get("REDIS_RETRY_SECONDS", 2)),
            )
            if redis_url
            else None
        )
        events.set_emitter(app, emitter, build_state)
    else:
        # Handlers are declared before the first init_app so that Flask-SocketIO
        # keeps them and registers them on the server of every app it initialises.
        from .extensions import socketio
        from .realtime import sockets  # noqa: F401
        from .realtime.redis_queue import client_manager

        # A client manager of the app's own, always: Flask-SocketIO keeps the
        # options of earlier init_app calls, and would reuse another app's.
        socketio.init_app(
            app,
            async_mode=_async_mode(app),
            client_manager=client_manager(app),
            message_queue=None,
            logger=False,
            engineio_logger=False,
        )
        events.set_emitter(app, socketio, build_state)

    if web:
        from .api import init_api
        from .api.errors import register_error_handlers
        from .ops.metrics import bp as metrics_bp
        from .security import headers as security
        from .web import init_web
        from .web.health import bp as health_bp

        app.register_blueprint(health_bp)
        app.register_blueprint(metrics_bp)
        init_api(app)
        init_web(app)
        register_error_handlers(app)
    outages.install(app)
    if web:
        security.install(app)
        _guard_realtime(app)

    return app


def create_worker_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The app of `queue-app worker`: what the periodic jobs use, and nothing of the web side.

    Jobs find the same models, settings, session hooks (events after commit,
    print spool, audit, hot cache), translations (SMS texts) and SMS gateways;
    their realtime events go to the servers through Redis (a write-only
    emitter). No blueprint is registered: a job builds links from PUBLIC_URL,
    never with url_for.
    """
    return create_app({**(test_config or {}), "SOCKETIO_WRITE_ONLY": True}, web=False)


def settle_heap() -> None:
    """Leave what start-up built out of the garbage collector's full passes (gc.freeze).

    Called by a serving process once its application is ready. The app, its
    routes, schemas, mappers and compiled SQL are hundreds of thousands of
    objects that live as long as the process; a full collection walked them
    all, every few seconds under load, and the requests of that moment waited
    (issuing at 16 kiosks on PostgreSQL: p99 68-82 ms before, 42-46 ms since).
    """
    import gc

    gc.collect()
    gc.freeze()


def _async_mode(app: Flask) -> str:
    """gevent where gevent patched the process (gunicorn -k gevent, queue-app run), else threads."""
    wanted = str(app.config.get("SOCKETIO_ASYNC_MODE") or "auto")
    if wanted != "auto":
        return wanted
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return "threading"
    return "gevent" if monkey.is_module_patched("socket") else "threading"


def _guard_realtime(app: Flask) -> None:
    """Bound the realtime connections per address; read the client's address and scheme
    from the headers of trusted reverse proxies only (TRUSTED_PROXIES)."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from .realtime.socket_guard import SocketGuard, signed_in_check

    limit = int(app.config.get("SOCKETIO_MAX_CONNECTIONS_PER_ADDRESS") or 0)
    if limit > 0 and not app.config.get("SOCKETIO_WRITE_ONLY"):
        # Anonymous connections only: paired devices and signed-in users are not bounded.
        app.wsgi_app = SocketGuard(  # type: ignore[method-assign]
            app.wsgi_app, limit, is_signed_in=signed_in_check(app)
        )
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        # Outermost, so that the guard, Socket.IO and the sign-in limits see the client's address.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies
        )


def _configure_logging(app: Flask) -> None:
    """Levels, and ops/logs.py's handler: text or JSON lines, masked, with the request's context."""
    from .ops import logs

    level = str(app.config.get("LOG_LEVEL", "INFO")).upper()
    root = logging.getLogger()
    if not root.handlers:
        root.setLevel(level)
    logs.configure(app)
    logging.getLogger("queue_app").setLevel(level)
    for noisy in ("apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
