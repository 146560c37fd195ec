"""Security headers on every answer: a Content-Security-Policy the pages keep, and friends.

Pages load scripts and styles from the server only (no inline script, no CDN):
data for a script travels in ``<script type="application/json">`` blocks. A view
that needs another policy (API docs) sets its own header; it is kept.
"""

from __future__ import annotations

from flask import Flask, Response


def install(app: Flask) -> None:
    """Add the security headers to every response of the app."""
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
