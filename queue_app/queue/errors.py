"""Domain errors. api/errors.py maps each to its HTTP status and JSON error."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l


class DomainError(Exception):
    """A refusal the user can understand; code is stable, message is for people."""

    status = 400
    code = "bad_request"
    default_message: Any = _l("The request cannot be done.")

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
    default_message = _l("Not found.")


class InvalidTransition(DomainError):
    status = 422
    code = "invalid_transition"
    default_message = _l("This change is not allowed in the ticket's current state.")


class CounterNotOpen(DomainError):
    status = 422
    code = "counter_not_open"
    default_message = _l("Open the counter first.")


class TicketInProgress(DomainError):
    status = 422
    code = "ticket_in_progress"
    default_message = _l("Finish or transfer the current ticket first.")


class Conflict(DomainError):
    status = 409
    code = "conflict"
    default_message = _l("This conflicts with the current state.")

    @classmethod
    def message_for_field(cls, field: str) -> Any:
        return _l("This %(field)s is already taken.", field=field)


class CounterTaken(Conflict):
    code = "counter_taken"
    default_message = _l("Another agent is working at this counter.")


class SiteClosed(Conflict):
    code = "site_closed"
    default_message = _l("The office is closed: no more tickets today.")


class IdempotencyKeyMismatch(DomainError):
    """The sender already used this Idempotency-Key today for a different request."""

    status = 422
    code = "idempotency_key_mismatch"
    default_message = _l(
        "This Idempotency-Key was already used for a different request: "
        "send a new key for a new request."
    )


class ServiceInactive(Conflict):
    code = "service_inactive"
    default_message = _l("This service is not available at the moment.")


class NothingWaiting(DomainError):
    """Not an API error (call-next answers 204); the console shows it as a notice."""

    status = 200
    code = "nothing_waiting"
    default_message = _l("Nobody is waiting for this counter's services.")


class InvalidInput(DomainError):
    status = 400
    code = "invalid_input"
    default_message = _l("Invalid input.")

    @classmethod
    def message_for_field(cls, field: str) -> Any:
        return _l("Invalid value for %(field)s.", field=field)


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    default_message = _l("Missing, expired or unknown credentials.")


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    default_message = _l("You are not allowed to do this.")
