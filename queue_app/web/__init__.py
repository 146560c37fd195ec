"""HTML pages: sign-in, the agent console, the public tracking page."""

from __future__ import annotations

from flask import Flask

from ..extensions import db, login_manager
from ..models import User
from ..queue.accounts import resolve_web_session


@login_manager.user_loader
def load_user(secret: str) -> User | None:
    """The user of a sign-in, from the secret its session or "stay signed in" cookie carries.

    The secret names a row of user_sessions (see web/auth.py): it opens nothing
    once that sign-in ended (signed out, expired, password changed, deactivated).
    """
    return resolve_web_session(db.session, secret)


def init_web(app: Flask) -> None:
    from . import admin, agent, auth, display, helpers, kiosk, public, quality

    helpers.register(app)

    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    app.register_blueprint(auth.bp)
    app.register_blueprint(agent.bp)
    app.register_blueprint(public.bp)
    from ..sms import webhook
    from . import booking

    app.register_blueprint(booking.bp)
    app.register_blueprint(webhook.bp)
    app.register_blueprint(kiosk.bp)
    app.register_blueprint(display.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(quality.bp)
    app.jinja_env.globals["languages"] = app.config["LANGUAGES"]
