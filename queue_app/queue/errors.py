"""Domain errors. api/errors.py maps each to its HTTP status and JSON error.

An error carries a stable ``code`` and an untranslated :class:`Message` (a
message id and its parameters, marked with :func:`N_` for extraction). The
edge translates it: the application registers its translation with
:func:`set_translator` at start, so ``str(error.message)`` is in the
request's language; without one (a script, a test of the domain alone) it is
the English message id filled with its parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# msgid, params -> text in the current language (registered by the application).
Translator = Callable[[str, dict[str, Any]], str]


def _untranslated(msgid: str, params: dict[str, Any]) -> str:
    return msgid % params if params else msgid


_translator: Translator = _untranslated


def set_translator(translator: Translator | None) -> None:
    """Have messages translated by ``translator`` (None: the English message ids)."""
    global _translator
    _translator = translator or _untranslated


class Message:
    """A message id with its parameters, translated only when it is shown."""

    __slots__ = ("msgid", "params")

    def __init__(self, msgid: str, **params: Any) -> None:
        self.msgid = msgid
        self.params = params

    def translate(self) -> str:
        params = {k: str(v) if isinstance(v, Message) else v for k, v in self.params.items()}
        return _translator(self.msgid, params)

    def __str__(self) -> str:
        return self.translate()

    def __mod__(self, params: dict[str, Any]) -> Message:
        return Message(self.msgid, **{**self.params, **params})

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Message):
            return (self.msgid, self.params) == (other.msgid, other.params)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.msgid)

    def __repr__(self) -> str:
        return f"Message({self.msgid!r}, **{self.params!r})"


def N_(msgid: str, **params: Any) -> Message:  # noqa: N802 - the gettext marker's name
    """Mark a message for extraction; it is translated where it is shown."""
    return Message(msgid, **params)


class DomainError(Exception):
    """A refusal the user can understand; code is stable, message is for people."""

    status = 400
    code = "bad_request"
    default_message: Any = N_("The request cannot be done.")

    def __init__(self, message: Any = None, **details: Any) -> None:
        if message is None:
            message = self.default_message
            if "field" in details:
                message = self.message_for_field(str(details["field"])) or message
        self.message = message
        self.details = details
        super().__init__(str(self.message))

    @classmethod
    def message_for_field(cls, field: str) -> Any:
        """A message naming the field, when the error is raised with field=..."""
        return None


class NotFound(DomainError):
    status = 404
    code = "not_found"
    default_message = N_("Not found.")


class InvalidTransition(DomainError):
    status = 422
    code = "invalid_transition"
    default_message = N_("This change is not allowed in the ticket's current state.")


class CounterNotOpen(DomainError):
    status = 422
    code = "counter_not_open"
    default_message = N_("Open the counter first.")


class TicketInProgress(DomainError):
    status = 422
    code = "ticket_in_progress"
    default_message = N_("Finish or transfer the current ticket first.")


class Conflict(DomainError):
    status = 409
    code = "conflict"
    default_message = N_("This conflicts with the current state.")

    @classmethod
    def message_for_field(cls, field: str) -> Any:
        return N_("This %(field)s is already taken.", field=field)


class CounterTaken(Conflict):
    code = "counter_taken"
    default_message = N_("Another agent is working at this counter.")


class SiteClosed(Conflict):
    code = "site_closed"
    default_message = N_("The office is closed: no more tickets today.")


class IdempotencyKeyMismatch(DomainError):
    """The sender already used this Idempotency-Key today for a different request."""

    status = 422
    code = "idempotency_key_mismatch"
    default_message = N_(
        "This Idempotency-Key was already used for a different request: "
        "send a new key for a new request."
    )


class ServiceInactive(Conflict):
    code = "service_inactive"
    default_message = N_("This service is not available at the moment.")


class NothingWaiting(DomainError):
    """Not an API error (call-next answers 204); the console shows it as a notice."""

    status = 200
    code = "nothing_waiting"
    default_message = N_("Nobody is waiting for this counter's services.")


class InvalidInput(DomainError):
    status = 400
    code = "invalid_input"
    default_message = N_("Invalid input.")

    @classmethod
    def message_for_field(cls, field: str) -> Any:
        return N_("Invalid value for %(field)s.", field=field)


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    default_message = N_("Missing, expired or unknown credentials.")


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    default_message = N_("You are not allowed to do this.")
