"""What a citizen reads about a place in the queue: one wording per case, in one place.

The printed ticket, the kiosk's ticket screen, the tracking page (and its live
updates) and the SMS all say the same thing: "You are next!" when nobody is
ahead, "1 person ahead of you", "3 people ahead of you", and "It is your
turn!" once called. Pages that update in JavaScript get the same phrases as
templates (``{n}`` filled in there) from :func:`phrases`.
"""

from __future__ import annotations

from flask_babel import gettext as _


def phrases() -> dict[str, str]:
    """Every position phrase in the current locale; ``{n}`` stands for the number."""
    return {
        "next": _("You are next!"),
        "ahead_one": _("1 person ahead of you"),
        "ahead_many": _("%(n)s people ahead of you", n="{n}"),
        "called": _("It is your turn!"),
        "wait": _("Estimated wait: about %(n)s min", n="{n}"),
    }


def position_phrase(position: int | None) -> str:
    """The sentence for ``position`` people ahead (0 = next); empty when unknown."""
    if position is None:
        return ""
    if position <= 0:
        return _("You are next!")
    if position == 1:
        return _("1 person ahead of you")
    return _("%(n)s people ahead of you", n=position)


def wait_phrase(position: int | None, minutes: int | None) -> str:
    """The estimated wait, said only when someone is ahead (the next one does not wait)."""
    if not position or minutes is None:
        return ""
    return _("Estimated wait: about %(n)s min", n=minutes)
