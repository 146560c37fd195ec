"""Sign in and out of the web pages (session cookie, CSRF-protected forms)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from ..api.auth import too_many_attempts
from ..extensions import db
from ..infra.i18n import LANG_COOKIE
from ..models import Role, User, utcnow
from ..queue.accounts import authenticate, end_web_session, start_web_session
from ..security.ratelimit import signin_limits
from . import known_browsers

bp = Blueprint("auth", __name__)
# Where Flask-Login keeps the signed-in user's identity, in the session and in the
# "stay signed in" cookie: here, the secret of the sign-in's user_sessions row.
SIGN_IN_KEY = "_user_id"


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    remember = BooleanField(_l("Stay signed in on this computer"))


def safe_next(target: str | None, fallback: str) -> str:
    """Only same-site relative paths are followed after sign-in or a language switch."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return fallback


def landing(user: User) -> str:
    """Where a person lands after signing in: managers and admins on the administration,
    agents at their console (their counter, or the list of counters to take one)."""
    if user.role in (Role.ADMIN, Role.MANAGER):
        return url_for("admin.dashboard")
    return url_for("agent.home")


def after_sign_in(user: User, target: str | None) -> str:
    """The page asked for before signing in, unless it was only the generic start page."""
    generic = {url_for("agent.home"), url_for("auth.index")}
    wanted = safe_next(target, "")
    if not wanted or wanted in generic:
        return landing(user)
    return wanted


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    if current_user.is_authenticated:
        return redirect(landing(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data or ""
        limits = signin_limits()
        address = request.remote_addr or ""
        browser = known_browsers.vouched_browser(email)
        wait = limits.attempt(email, address, browser)
        if wait is not None:
            # The sign-in page again, saying why and for how long (not a bare error).
            refusal = too_many_attempts(wait)
            page = render_template("auth/login.html", form=form, refusal=refusal.description)
            return page, 429, {"Retry-After": str(wait.seconds)}
        user = authenticate(db.session, email, form.password.data or "")
        if user is not None:
            limits.succeeded(email, browser)
            remember = bool(form.remember.data)
            config = current_app.config
            ttl = (
                timedelta(days=float(config["REMEMBER_DAYS"]))
                if remember
                else current_app.permanent_session_lifetime
            )
            secret, _row = start_web_session(db.session, user, ttl, remember=remember)
            user.last_login_at = utcnow()
            db.session.commit()
            login_user(user, remember=remember)
            # Flask-Login keeps the user's id in the session and in the "stay signed
            # in" cookie: keep this sign-in's secret instead, so that both end with it.
            session[SIGN_IN_KEY] = secret
            response = redirect(after_sign_in(user, request.args.get("next")))
            # From now on this browser's attempts for the account are its own (known_browsers).
            known_browsers.remember(response, email)
            return response
        limits.failed(address, browser)
        flash(_("Wrong e-mail or password."), "error")
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form), (400 if form.errors else 200)


@bp.get("/logout")
def logout_confirm() -> str | Response:
    """Signing out is a form (POST, CSRF token): a link or a typed address only asks."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return render_template("auth/logout.html")


@bp.post("/logout")
@login_required
def logout() -> Response:
    secret = session.get(SIGN_IN_KEY)
    if secret:
        # This browser's sign-in ends: copies of its cookies open nothing any more.
        end_web_session(db.session, str(secret))
        db.session.commit()
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def set_language(code: str) -> Response:
    target = safe_next(request.args.get("next"), url_for("agent.home"))
    response = make_response(redirect(target))
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie(
            LANG_COOKIE,
            code,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        )
    return response


@bp.get("/")
def index() -> Response:
    if current_user.is_authenticated:
        return redirect(landing(current_user))
    return redirect(url_for("auth.login"))
