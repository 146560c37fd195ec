"""The two hot paths' views, answered before their documented flask-smorest views.

Issuing a ticket (a kiosk) and calling the next one (an agent) are the
requests an office sends most, in bursts. Their hot views take only the
common, well-formed request of a known bearer token, from the per-process
caches (hotcache.py), with plain SQL (rawsql.py), and write their JSON
themselves; anything else (another caller, a malformed body, a refusal) is
answered by the documented view, so that errors and replays are exactly the
contract (API.md). Credentials are still checked first: an anonymous caller
gets 401 before anything is looked up.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, Response, current_app, request

from ..security.permissions import require_principal
from . import principal

# The endpoints whose hot view checks credentials itself (api/__init__.py).
ENDPOINTS: set[str] = set()


def bearer_token(prefix: str) -> str | None:
    """The request's bearer token when it has this prefix (a kind of token), else None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(prefix):
        return None
    return token


def json_answer(body: dict[str, Any], status: int) -> Response:
    """The JSON answer of a hot view, byte for byte as the documented view writes it."""
    return current_app.response_class(
        json.dumps(body, separators=(",", ":"), sort_keys=True) + "\n",
        status,
        mimetype="application/json",
    )


def install(app: Flask, endpoint: str, hot: Callable[..., Response | None]) -> None:
    """Put ``hot`` before the documented view of ``endpoint`` (after the API's registration).

    ``hot`` returns the answer, or None to let the documented view answer; it
    sees POST requests only, with the endpoint's URL arguments.
    """
    documented = app.view_functions[endpoint]

    @wraps(documented)
    def view(**kwargs: Any) -> Any:
        if request.method == "POST":
            answer = hot(**kwargs)
            if answer is not None:
                return answer
        # Credentials before anything else (api/__init__.py skips these endpoints).
        require_principal(principal())
        return documented(**kwargs)

    app.view_functions[endpoint] = view
    ENDPOINTS.add(endpoint)
