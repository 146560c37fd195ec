"""Security headers on every answer: a Content-Security-Policy the pages keep, and friends.

Pages load scripts and styles from the server only (no inline script, no CDN):
data for a script travels in ``<script type="application/json">`` blocks. A view
that needs another policy (API docs) sets its own header; it is kept.
"""

from __future__ import annotations

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie sessions; a request without the cookie builds no signer.

    API clients (kiosks, agents' bearer tokens) send no session cookie: they
    get an empty session without the cost of a signer on every request.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def install(app: Flask) -> None:
    """Add the security headers to every response of the app."""
    app.session_interface = CookieSessions()
    policy = str(app.config["CONTENT_SECURITY_POLICY"])

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy", policy)
            headers.setdefault("X-Frame-Options", "DENY")
        return response
