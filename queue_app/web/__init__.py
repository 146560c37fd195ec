"""HTML pages: sign-in, the agent console, the public tracking page."""

from __future__ import annotations

from flask import Flask

from ..extensions import db, login_manager
from ..models import User


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.is_active else None


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
