"""Language of each request: French by default, English available."""

from __future__ import annotations

from typing import Any

from flask import current_app, has_app_context, has_request_context, request
from flask_babel import gettext
from flask_login import current_user

LANG_COOKIE = "lang"


def supported() -> list[str]:
    return list(current_app.config["LANGUAGES"])


def select_locale() -> str:
    """?lang=, then the lang cookie, then the user's choice; the API also reads Accept-Language."""
    languages = supported()
    if not has_request_context():  # CLI, jobs: the default language
        return languages[0]
    asked = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
    if asked in languages:
        return asked
    user = current_user
    if getattr(user, "is_authenticated", False) and getattr(user, "locale", None) in languages:
        return str(user.locale)
    if request.path.startswith("/api/"):
        best = request.accept_languages.best_match(languages)
        if best:
            return best
    return languages[0]


def translate_message(msgid: str, params: dict[str, Any]) -> str:
    """A domain message (queue/errors.py) in the current language; English outside an app."""
    if not has_app_context():
        return msgid % params if params else msgid
    return str(gettext(msgid, **params))
