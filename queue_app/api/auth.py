"""POST /api/v1/auth/token: a bearer token for a user."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask.views import MethodView

from ..extensions import db, limiter
from ..models import utcnow
from ..queue import errors
from ..queue.accounts import authenticate, issue_api_token
from ..queue.publish import iso
from . import ApiBlueprint
from .schemas import TokenRequestSchema, TokenSchema

blp = ApiBlueprint("api_auth", __name__, description="Tokens for users")


def _login_limit() -> str:
    return str(current_app.config["RATELIMIT_LOGIN"])


@blp.route("/auth/token")
class TokenView(MethodView):
    decorators = [limiter.limit(_login_limit)]

    @blp.doc(security=[])
    @blp.arguments(TokenRequestSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, description="Wrong e-mail or password")
    def post(self, body: dict) -> dict:
        """Exchange an e-mail and password for a bearer token that expires."""
        user = authenticate(db.session, body["email"], body["password"])
        if user is None:
            raise errors.Unauthorized(errors.Unauthorized.default_message, reason="bad_credentials")
        now = utcnow()
        ttl = timedelta(hours=float(current_app.config["API_TOKEN_TTL_HOURS"]))
        token, row = issue_api_token(db.session, user, ttl, now=now)
        user.last_login_at = now
        db.session.commit()
        return {"token": token, "expires_at": iso(row.expires_at)}
