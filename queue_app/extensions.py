"""Flask extensions, created unbound and initialised in create_app.

``db`` and ``babel`` are what every process needs. The web-only extensions
(``socketio``, ``csrf``, ``limiter``) are created on first use: the worker
(create_worker_app) never touches them, and so never imports Flask-SocketIO
and python-socketio's asyncio clients, Flask-WTF or Flask-Limiter (some 25 MB).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from flask_babel import Babel
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy

from .models import Base

if TYPE_CHECKING:
    from flask_socketio import SocketIO
    from flask_wtf import CSRFProtect
    from sqlalchemy.orm import Session

    from .security.ratelimit import Limiter

    socketio: SocketIO
    csrf: CSRFProtect
    limiter: Limiter

    class ScopedSession(Session):
        """What ``db.session`` is to the type checker: the Session of the current context.

        Flask-SQLAlchemy's ``scoped_session`` forwards every Session method to the session
        of the app context; the domain's functions take a ``Session`` and are given
        ``db.session``. Only the registry's own methods are added here.
        """

        def __call__(self) -> Session:
            """The current context's session itself."""
            ...

        def remove(self) -> None:
            """Close the context's session and forget it (the next use makes a new one)."""

        # Session methods the scoped session does not forward: call them on db.session().
        invalidate: None  # type: ignore[assignment]
        prepare: None  # type: ignore[assignment]
        in_transaction: None  # type: ignore[assignment]
        in_nested_transaction: None  # type: ignore[assignment]
        get_transaction: None  # type: ignore[assignment]
        get_nested_transaction: None  # type: ignore[assignment]


class Database(SQLAlchemy):
    """Flask-SQLAlchemy, with ``session`` typed as the Session it stands for."""

    if TYPE_CHECKING:
        session: ScopedSession  # type: ignore[assignment]


# Models use our own typed Base; Flask-SQLAlchemy provides the session and engines.
# Sessions live for one request or job: objects need not be reloaded after commit.
db = Database(metadata=Base.metadata, session_options={"expire_on_commit": False})
babel = Babel()
login_manager = LoginManager()


def _socketio() -> Any:
    from flask_socketio import SocketIO

    return SocketIO()


def _csrf() -> Any:
    from flask_wtf import CSRFProtect

    return CSRFProtect()


def _limiter() -> Any:
    from flask_limiter.util import get_remote_address

    from .security.ratelimit import Limiter

    # Limits are checked only by the views they decorate (no hook on every request);
    # sign-in limits are queue_app.security.ratelimit.SignInLimits.
    return Limiter(key_func=get_remote_address, default_limits=[])


_lazy_lock = threading.Lock()
_LAZY = {"socketio": _socketio, "csrf": _csrf, "limiter": _limiter}


def __getattr__(name: str) -> Any:
    """The web-only extensions, each created once, on first use (PEP 562)."""
    factory = _LAZY.get(name)
    if factory is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _lazy_lock:  # two threads asking at once get one instance
        value = globals().get(name)
        if value is None:
            value = globals()[name] = factory()
    return value
