"""POST /api/v1/auth/token: a bearer token for a user."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, request
from flask.views import MethodView
from flask_babel import ngettext
from werkzeug.exceptions import TooManyRequests

from ..extensions import db
from ..models import utcnow
from ..queue import errors
from ..queue.accounts import authenticate, issue_api_token
from ..realtime.publish import iso
from ..security.ratelimit import ADDRESS, Wait, signin_limits
from . import ApiBlueprint
from .schemas import TokenRequestSchema, TokenSchema

blp = ApiBlueprint("api_auth", __name__, description="Tokens for users")


def too_many_attempts(wait: Wait) -> TooManyRequests:
    """429 with Retry-After, for sign-ins over their limit (per account or per address)."""
    minutes = max((wait.seconds + 59) // 60, 1)
    if wait.limit == ADDRESS:
        message = ngettext(
            "Too many failed sign-ins from this network. Wait %(num)d minute, then try again.",
            "Too many failed sign-ins from this network. Wait %(num)d minutes, then try again.",
            minutes,
        )
    else:
        message = ngettext(
            "Too many sign-in attempts. Wait %(num)d minute, then try again.",
            "Too many sign-in attempts. Wait %(num)d minutes, then try again.",
            minutes,
        )
    return TooManyRequests(description=message, retry_after=wait.seconds)


@blp.route("/auth/token")
class TokenView(MethodView):
    @blp.doc(security=[])
    @blp.arguments(TokenRequestSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, description="Wrong e-mail or password")
    @blp.alt_response(
        429, description="Too many sign-in attempts for this account or from this address"
    )
    def post(self, body: dict) -> dict:
        """Exchange an e-mail and password for a bearer token that expires."""
        limits = signin_limits()
        address = request.remote_addr or ""
        wait = limits.attempt(body["email"], address)
        if wait is not None:
            raise too_many_attempts(wait)
        user = authenticate(db.session, body["email"], body["password"])
        if user is None:
            limits.failed(address)
            raise errors.Unauthorized(errors.Unauthorized.default_message, reason="bad_credentials")
        limits.succeeded(body["email"])
        now = utcnow()
        ttl = timedelta(hours=float(current_app.config["API_TOKEN_TTL_HOURS"]))
        token, row = issue_api_token(db.session, user, ttl, now=now)
        user.last_login_at = now
        db.session.commit()
        return {"token": token, "expires_at": iso(row.expires_at)}
