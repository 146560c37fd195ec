"""Template helpers: labels of states in the user's language, local times."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask
from flask_babel import format_decimal, format_percent, get_locale
from flask_babel import lazy_gettext as _l

from ..infra.position_text import phrases, position_phrase, wait_phrase
from ..models import CounterState, Site, TicketStatus
from ..queue.days import zone
from ..realtime.publish import iso
from .citizen_errors import citizen_way_back

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


def number(value: float | int | None, digits: int = 1) -> str:
    """A number as the page's language writes it: 1,9 in French, 1.9 in English; at most
    ``digits`` decimals, none when it is whole (12, not 12,0)."""
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "#" * digits if digits > 0 else "")
    return str(format_decimal(value, format=pattern))


def fixed(value: float | int | None, digits: int = 1) -> str:
    """A number with exactly ``digits`` decimals in the page's language (4,0 / 5)."""
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return str(format_decimal(value, format=pattern))


def percent(value: float | int | None) -> str:
    """A share given in percent (80.4) as the language writes it: 80 % in French."""
    if value is None:
        return "—"
    return str(format_percent(value / 100))


def register(app: Flask) -> None:
    globals_: dict[str, Any] = {
        "current_locale": current_locale,
        "status_label": status_label,
        "counter_state_label": counter_state_label,
        "pause_reason_label": pause_reason_label,
        "minutes_between": minutes_between,
        "citizen_way_back": citizen_way_back,
        "position_phrases": phrases,
        "position_phrase": position_phrase,
        "wait_phrase": wait_phrase,
    }
    app.jinja_env.globals.update(globals_)
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["number"] = number
    app.jinja_env.filters["fixed"] = fixed
    app.jinja_env.filters["percent"] = percent
    app.jinja_env.filters["iso"] = iso
