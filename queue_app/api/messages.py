"""Error messages of the API in the request's language.

Domain errors carry translated messages already. This module translates the
rest: the message of each HTTP status (werkzeug's own texts are English only)
and the validation messages of marshmallow and webargs, which are English
templates ("Length must be between {min} and {max}.") formatted before we see
them: each message is matched against the templates below and the translated
template is formatted with the same values.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l


def N_(message: str) -> str:  # noqa: N802 - the usual name of the "extract only" marker
    """Mark a message for extraction (make i18n-update) without translating it here."""
    return message


HTTP_MESSAGES: dict[int, Any] = {
    400: _l("The request is not valid."),
    401: _l("Missing, expired or unknown credentials."),
    403: _l("You are not allowed to do this."),
    404: _l("Not found."),
    405: _l("This method is not allowed here."),
    406: _l("This answer format is not available: ask for application/json."),
    409: _l("This conflicts with the current state."),
    413: _l("The request body is too large."),
    415: _l("Send the body as JSON (Content-Type: application/json)."),
    422: _l("The request cannot be done."),
    429: _l("Too many requests: wait a moment and try again."),
    500: _l("Something went wrong on our side."),
    503: _l("The service is unavailable for a moment: try again shortly."),
}


def http_message(status: int) -> Any:
    """The message of an HTTP error status, in the request's language."""
    return HTTP_MESSAGES.get(status) or HTTP_MESSAGES[500 if status >= 500 else 400]


# Every validation message marshmallow (4.x) and webargs can give, and ours.
# tests/test_openapi.py checks that none of marshmallow's is missing.
VALIDATION_MESSAGES = (
    # webargs and our parser
    N_("Invalid JSON body."),
    N_("A JSON body is required."),
    # queue_app.api.schemas.Text
    N_("Control characters are not allowed."),
    N_("Not valid Unicode text."),
    N_("This field may not be blank."),
    # marshmallow.Schema
    N_("Invalid input type."),
    N_("Unknown field."),
    # marshmallow.fields
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid boolean."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Number too large."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("Not a valid list."),
    N_("Not a valid tuple."),
    N_("Not a valid mapping type."),
    N_("Invalid type."),
    N_("Not a valid date."),
    N_('"{input}" cannot be formatted as a date.'),
    N_("Not a valid {obj_type}."),
    N_("Not a valid {awareness} {obj_type}."),
    N_('"{input}" cannot be formatted as a {obj_type}.'),
    N_("Not a valid period of time."),
    N_("{input!r} cannot be formatted as a timedelta."),
    N_("Not a valid email address."),
    N_("Not a valid URL."),
    N_("Not a valid UUID."),
    N_("Not a valid IP address."),
    N_("Not a valid IP interface."),
    N_("Not a valid IPv4 address."),
    N_("Not a valid IPv4 interface."),
    N_("Not a valid IPv6 address."),
    N_("Not a valid IPv6 interface."),
    # marshmallow.validate
    N_("Must be one of: {choices}."),
    N_("One or more of the choices you made was in: {values}."),
    N_("One or more of the choices you made was not in: {choices}."),
    N_("Must be equal to {other}."),
    N_("Shorter than minimum length {min}."),
    N_("Longer than maximum length {max}."),
    N_("Length must be between {min} and {max}."),
    N_("Length must be {equal}."),
    N_("Invalid input."),
    N_("String does not match expected pattern."),
    N_("Must be greater than or equal to {min}."),
    N_("Must be greater than {min}."),
    N_("Must be less than or equal to {max}."),
    N_("Must be less than {max}."),
    N_("Must be greater than or equal to {min} and less than or equal to {max}."),
    N_("Must be greater than or equal to {min} and less than {max}."),
    N_("Must be greater than {min} and less than or equal to {max}."),
    N_("Must be greater than {min} and less than {max}."),
    # our schemas
    N_("Give a name (or names per language)."),
    N_("Only a waiting time is for one service."),
    N_("Only kiosks have a printer."),
)

_PLACEHOLDER = re.compile(r"\{(\w+)(![rsa])?\}")


@lru_cache(maxsize=1)
def _matchers() -> tuple[dict[str, str], list[tuple[re.Pattern[str], str]]]:
    exact: dict[str, str] = {}
    patterns: list[tuple[re.Pattern[str], str]] = []
    for template in VALIDATION_MESSAGES:
        if not _PLACEHOLDER.search(template):
            exact[template] = template
            continue
        regex, position = "", 0
        for match in _PLACEHOLDER.finditer(template):
            regex += re.escape(template[position : match.start()]) + f"(?P<{match.group(1)}>.+?)"
            position = match.end()
        regex += re.escape(template[position:])
        patterns.append((re.compile(f"^{regex}$", re.DOTALL), template))
    # Most specific first: "Not a valid {awareness} {obj_type}." before "Not a valid {obj_type}.".
    patterns.sort(key=lambda item: -len(_PLACEHOLDER.sub("", item[1])))
    return exact, patterns


def translate_message(message: str) -> str:
    """One validation message in the request's language (unknown ones are kept as they are)."""
    exact, patterns = _matchers()
    if message in exact:
        return gettext(message)
    for regex, template in patterns:
        found = regex.match(message)
        if found:
            translated = _PLACEHOLDER.sub(r"{\1}", gettext(template))
            try:
                return translated.format(**found.groupdict())
            except (KeyError, IndexError, ValueError):
                return message
    return message


def translate_messages(messages: Any) -> Any:
    """Validation messages ({"json": {"field": ["..."]}}) with each text translated."""
    if isinstance(messages, dict):
        return {key: translate_messages(value) for key, value in messages.items()}
    if isinstance(messages, list | tuple):
        return [translate_messages(value) for value in messages]
    if isinstance(messages, str):
        return translate_message(messages)
    return messages
