"""Helpers of the quality tests: signing in to the pages, CSRF tokens of forms."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from .conftest import PASSWORD

CSRF_RE = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = CSRF_RE.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> None:
    """Sign in through the login form (session cookie)."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "csrf_token": csrf_of(page.get_data(as_text=True)),
            "email": email,
            "password": password,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def post_form(
    client: FlaskClient, page_url: str, data: dict[str, Any], action: str | None = None
) -> Any:
    """Open a page, then post its form with the page's CSRF token (like a browser)."""
    page = client.get(page_url)
    assert page.status_code == 200, (page_url, page.status_code)
    token = csrf_of(page.get_data(as_text=True))
    return client.post(action or page_url, data={"csrf_token": token, **data})
