"""Input that reaches the application is bounded: ids, JSON bodies, strings, booleans.

Everything here is applied once for the whole app, so endpoints added later get
it without asking:

- every ``<int:...>`` URL part is an id the database can hold (a larger one
  matches no route: 404), every ``<...>`` string part refuses control
  characters (404);
- JSON is parsed strictly (no lone surrogates, bounded nesting, numbers the
  parser can hold), by the API's argument parser and by ``request.get_json()``;
- a body that is not JSON is 415, a missing required body is 400;
- JSON body schemas get bounds on integers (what an ``integer`` column holds),
  exact booleans (only ``true``/``false``) and no control characters in strings;
  query and header schemas the same bounds on integers and strings.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from marshmallow import Schema, ValidationError, fields, validate
from webargs.core import is_json
from werkzeug.exceptions import UnsupportedMediaType
from werkzeug.routing import IntegerConverter, UnicodeConverter
from werkzeug.routing import ValidationError as RouteMismatch

# Ids and every integer column are SQL ``integer``: 32-bit signed on PostgreSQL
# (SQLite holds 64 bits, but the same code and data run on both). A larger
# value would make PostgreSQL fail the query ("integer out of range"), and one
# beyond 64 bits would make SQLite fail it: such a value is refused first.
INT_MIN = -(2**31)
INT_MAX = 2**31 - 1
# Deeper than any body of the API (hours are 4 levels deep); far below the
# interpreter's recursion limit, which a deeper document would reach.
MAX_JSON_DEPTH = 32

CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# The same rule in the JSON Schema dialect of OpenAPI (ECMA-262 regular expressions).
_NO_CONTROL = "[^\\u0000-\\u001F\\u007F-\\u009F]"
_NO_CONTROL_MULTILINE = "[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]"
SINGLE_LINE_PATTERN = f"^{_NO_CONTROL}*$"
MULTILINE_PATTERN = f"^{_NO_CONTROL_MULTILINE}*$"
# ... with at least one character that is not a space (a name).
NON_BLANK_PATTERN = f"^{_NO_CONTROL}*[^\\s\\u0000-\\u001F\\u007F-\\u009F]{_NO_CONTROL}*$"
NON_BLANK_MULTILINE_PATTERN = (
    f"^{_NO_CONTROL_MULTILINE}*[^\\s\\u0000-\\u001F\\u007F-\\u009F]{_NO_CONTROL_MULTILINE}*$"
)


# --- URL parts ------------------------------------------------------------------------


class IdConverter(IntegerConverter):
    """``<int:id>``: 0 to 2**31 - 1, what an id column holds; anything else matches no route."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None, **kwargs: Any):
        kwargs.setdefault("max", INT_MAX)
        super().__init__(map, fixed_digits=fixed_digits, min=min, **kwargs)

    def to_python(self, value: str) -> int:
        # Checked before int(), which refuses strings of thousands of digits (a 500).
        digits = value.lstrip("0") or "0"
        if len(digits) > len(str(INT_MAX)):
            raise RouteMismatch()
        return super().to_python(value if self.fixed_digits else digits)


class TextConverter(UnicodeConverter):
    """``<slug>``, ``<code>``: any text but "/" and control characters (NUL breaks PostgreSQL)."""

    def __init__(self, map: Any, minlength: int = 1, maxlength: int | None = None, **kwargs: Any):
        super().__init__(map, minlength=minlength, maxlength=maxlength, **kwargs)
        # Keep werkzeug's "{min,max}" length suffix: the OpenAPI generator reads it.
        self.regex = r"[^/\x00-\x1f\x7f-\x9f]" + self.regex[len("[^/]") :]


def install_url_converters(app: Flask) -> None:
    """Bound every int and string URL part; call before any route is added."""
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["default"] = TextConverter
    app.url_map.converters["string"] = TextConverter


def text_converter_schema(converter: TextConverter) -> dict[str, Any]:
    """How a string URL part is documented in OpenAPI."""
    return {"type": "string", "minLength": 1, "pattern": "^[^/\\u0000-\\u001F\\u007F-\\u009F]+$"}


# --- JSON -----------------------------------------------------------------------------


def loads_strict(data: str | bytes, **kwargs: Any) -> Any:
    """Parse JSON, refusing what the rest of the code cannot handle.

    Raises ``json.JSONDecodeError`` (a ValueError) for malformed JSON, nesting
    deeper than ``MAX_JSON_DEPTH``, a lone surrogate (``"\\ud800"``) in any
    string or key, or a number of thousands of digits. ``kwargs`` go to
    ``json.loads`` (Flask's session serializer passes an ``object_hook``).
    """
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    try:
        value = json.loads(text, **kwargs)
    except json.JSONDecodeError:
        raise
    except RecursionError as exc:
        raise json.JSONDecodeError("nested too deeply", text or " ", 0) from exc
    except ValueError as exc:  # e.g. an integer longer than Python converts
        raise json.JSONDecodeError(str(exc), text or " ", 0) from exc
    _check_parsed(value, text)
    return value


def _check_parsed(value: Any, text: str) -> None:
    # Iterative, so a deep document cannot exhaust the stack here either.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if LONE_SURROGATE.search(item):
                raise json.JSONDecodeError("lone surrogate in a string", text, 0)
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise json.JSONDecodeError("nested too deeply", text, 0)
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


class StrictJSONProvider(DefaultJSONProvider):
    """``request.get_json()`` parses strictly too (a refused document is a 400)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads_strict(s, **kwargs)


def json_body(*, required: bool = True) -> Any:
    """The request's JSON body for views that read it themselves (not through a schema).

    415 when a body is sent in another format, 400 when it is missing (and
    required) or is not valid JSON; ``None`` when it is missing and optional.
    """
    from webargs.flaskparser import abort

    data = request.get_data(cache=True)
    if not data:
        if required:
            abort(400, messages={"json": ["A JSON body is required."]})
        return None
    if not is_json(request.mimetype):
        raise UnsupportedMediaType()
    try:
        return loads_strict(data)
    except ValueError:
        abort(400, messages={"json": ["Invalid JSON body."]})


def require_body() -> None:
    """400 when a request that needs a body has none (PUT /hours would wipe the hours)."""
    from webargs.flaskparser import abort

    if not request.get_data(cache=True):
        abort(400, messages={"json": ["A JSON body is required."]})


# --- body schemas ---------------------------------------------------------------------


ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class Date(fields.Date):
    """A date written YYYY-MM-DD only, as OpenAPI's ``format: date`` says (Python's
    date.fromisoformat also reads 20261130 and 2026-W48-1)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not ISO_DATE.match(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class _Only:
    """A one-value set matched by identity: ``1 in _Only(True)`` is False, unlike ``{True}``."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    def __contains__(self, item: object) -> bool:
        return item is self.value

    def __bool__(self) -> bool:
        return True

    def __iter__(self) -> Any:
        return iter((self.value,))


INTEGER_RANGE = validate.Range(min=INT_MIN, max=INT_MAX)


def _json_number(value: Any) -> float:
    """float() for a JSON number only (marshmallow's Float also reads "5" and true)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not a JSON number")
    return float(value)


def no_control_characters(value: str) -> None:
    """Validator for strings not declared as ``Text``: same refusal, same message."""
    if CONTROL_CHARACTERS.search(value):
        raise ValidationError("Control characters are not allowed.")
    if LONE_SURROGATE.search(value):
        raise ValidationError("Not valid Unicode text.")


def harden_body_schema(schema: Schema) -> Schema:
    """Bound a JSON body schema's fields (nested ones too); returns the same instance.

    Numbers must be JSON numbers (integers whole ones, within the bounds of an
    ``integer`` column: a value the database cannot hold is refused, and
    documented so), booleans accept only true and false, and
    strings not declared as ``Text`` refuse control characters.
    """
    return _harden_schema(schema, json_types=True)


def harden_parameters_schema(schema: Schema) -> Schema:
    """The same bounds for query (or header) parameters, which arrive as text.

    Integers within the bounds of an ``integer`` column, no control characters
    in strings; "5" stays 5 and "true" true, as a query string writes them.
    """
    return _harden_schema(schema, json_types=False)


def _harden_schema(schema: Schema, *, json_types: bool) -> Schema:
    if getattr(schema, "_guichet_hardened", False):
        return schema
    schema._guichet_hardened = True  # type: ignore[attr-defined]
    for field in schema.fields.values():
        _harden_field(field, json_types)
    return schema


def _harden_field(field: fields.Field, json_types: bool) -> None:
    from .schemas import Text

    if isinstance(field, fields.Nested):
        nested = field.schema
        if isinstance(nested, Schema):
            _harden_schema(nested, json_types=json_types)
    elif isinstance(field, fields.List):
        _harden_field(field.inner, json_types)
    elif isinstance(field, fields.Tuple):
        for inner in field.tuple_fields:
            _harden_field(inner, json_types)
    elif isinstance(field, fields.Mapping):
        for part in (field.key_field, field.value_field):
            if part is not None:
                _harden_field(part, json_types)
    elif isinstance(field, fields.Integer):
        # A JSON integer only: not "5", not 2.5 (which int() would read as 2).
        field.strict = json_types
        field.validators.append(INTEGER_RANGE)
    elif isinstance(field, fields.Float):
        if json_types:
            field.num_type = _json_number  # type: ignore[assignment]
    elif isinstance(field, fields.Boolean):
        if json_types:
            field.truthy = _Only(True)  # type: ignore[assignment]
            field.falsy = _Only(False)  # type: ignore[assignment]
    elif isinstance(field, fields.String) and not isinstance(field, Text):
        field.validators.append(no_control_characters)
        if not any(isinstance(v, validate.Regexp) for v in field.validators):
            field.metadata = {"pattern": SINGLE_LINE_PATTERN, **field.metadata}
