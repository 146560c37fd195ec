"""Browsers that signed in before: a signed cookie that vouches for the accounts it opened.

The sign-in limits (ratelimit.py) stop guessing per account and per client
address. Both can be used against an office: a stranger who types five wrong
passwords for an agent's e-mail locks that agent out for a while, and someone
behind the office's one NAT address who tries many accounts stops the whole
office. A browser that once signed in to an account with its password (the
office's PCs, an agent's phone) carries a cookie that vouches for that account
(OWASP's "device cookies"): its attempts for that account are counted on its
own (one browser, one account) and not against the address, so neither a
stranger's guesses nor a neighbour's spray keeps it out. Guessing from a browser
that holds such a cookie is still stopped after a few tries.

The cookie holds a random browser id and keyed digests of the accounts (no
e-mail in clear), is signed with the app's secret, sent to ``/login`` only,
and lasts SIGNIN_KNOWN_BROWSER_DAYS.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

COOKIE = "guichet_known_browser"
SALT = "guichet.known-browser"
# A PC shared by an office's agents vouches for each of them; the oldest drop out.
MAX_ACCOUNTS = 12


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(current_app.secret_key), salt=SALT)


def _max_age() -> int:
    return int(float(current_app.config["SIGNIN_KNOWN_BROWSER_DAYS"]) * 86400)


def _digest(email: str) -> str:
    secret = str(current_app.secret_key).encode()
    value = f"known-browser:{email.strip().lower()}".encode()
    return hmac.new(secret, value, hashlib.sha256).hexdigest()[:24]


def _read() -> tuple[str | None, list[str]]:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None, []
    try:
        data: Any = _serializer().loads(raw, max_age=_max_age())
    except BadSignature:  # forged, altered, or too old
        return None, []
    if not isinstance(data, dict) or not isinstance(data.get("b"), str):
        return None, []
    accounts = [a for a in data.get("a", []) if isinstance(a, str)]
    return data["b"], accounts


def vouched_browser(email: str) -> str | None:
    """The id of this browser when its cookie vouches for the account, else None."""
    browser, accounts = _read()
    if browser is None or _digest(email) not in accounts:
        return None
    return browser


def remember(response: Response, email: str) -> None:
    """After a right password: this browser vouches for the account from now on."""
    browser, accounts = _read()
    digest = _digest(email)
    accounts = [a for a in accounts if a != digest][-(MAX_ACCOUNTS - 1) :] + [digest]
    value = _serializer().dumps({"b": browser or secrets.token_urlsafe(16), "a": accounts})
    config = current_app.config
    response.set_cookie(
        COOKIE,
        value,
        max_age=_max_age(),
        path="/login",
        secure=bool(config.get("SESSION_COOKIE_SECURE")),
        httponly=True,
        samesite=str(config.get("SESSION_COOKIE_SAMESITE") or "Lax"),
    )
