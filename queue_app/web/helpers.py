"""Template helpers: labels of states in the user's language, local times."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from ..models import CounterState, Site, TicketStatus
from ..queue.days import zone
from ..queue.publish import iso

STATUS_LABELS = {
    TicketStatus.WAITING: _l("Waiting"),
    TicketStatus.CALLED: _l("Called"),
    TicketStatus.SERVING: _l("Being served"),
    TicketStatus.DONE: _l("Done"),
    TicketStatus.NO_SHOW: _l("No-show"),
    TicketStatus.CANCELLED: _l("Cancelled"),
}

COUNTER_STATE_LABELS = {
    CounterState.OPEN: _l("Open"),
    CounterState.PAUSED: _l("Paused"),
    CounterState.CLOSED: _l("Closed"),
}

PAUSE_REASON_LABELS = {
    "break": _l("Short break"),
    "lunch": _l("Lunch"),
    "meeting": _l("Meeting"),
    "back_office": _l("Back-office work"),
    "other": _l("Other"),
}


def current_locale() -> str:
    return str(get_locale() or "fr")


def status_label(status: TicketStatus | str) -> str:
    return str(STATUS_LABELS.get(TicketStatus(status), status))


def counter_state_label(state: CounterState | str) -> str:
    return str(COUNTER_STATE_LABELS.get(CounterState(state), state))


def pause_reason_label(reason: str) -> str:
    label = PAUSE_REASON_LABELS.get(reason)
    return str(label) if label is not None else reason


def localtime(moment: datetime | None, site: Site, fmt: str = "%H:%M") -> str:
    if moment is None:
        return "—"
    return moment.astimezone(zone(site.timezone)).strftime(fmt)


def minutes_between(start: datetime | None, end: datetime | None) -> int:
    if start is None or end is None:
        return 0
    return max(int((end - start).total_seconds() // 60), 0)


def register(app: Flask) -> None:
    globals_: dict[str, Any] = {
        "current_locale": current_locale,
        "status_label": status_label,
        "counter_state_label": counter_state_label,
        "pause_reason_label": pause_reason_label,
        "minutes_between": minutes_between,
    }
    app.jinja_env.globals.update(globals_)
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["iso"] = iso
