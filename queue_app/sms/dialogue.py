"""Booking by SMS: a short dialogue per phone number, kept in ``sms_conversations``.

    RDV            → numbered services → numbered days → numbered times → booked
    RDV CNI 25/11 9h   (one line: service, day, time; what is missing is asked)
    ANNULER <ref>  · STATUT · AIDE

French keywords first; English (BOOK, CANCEL, STATUS, HELP) and Wolof (NDAJE,
NEENAL, NAKA, NDIMBAL) are understood too, in any case, with accents or typos
(RVD, ANULER). Anything else gets the help text: never silence. Every text fits
one SMS segment. Replies go back on the channel the citizen used.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    Appointment,
    BookingChannel,
    Service,
    Site,
    SmsConversation,
    Ticket,
    TicketStatus,
    utcnow,
)
from ..queue import booking, errors
from ..queue.booking_window import DayProblem, DayVerdict, judge_day
from ..queue.days import local_now, service_day, zone
from ..queue.estimates import position_of
from . import notices, texts

KEYWORDS = {
    "book": ("RDV", "RV", "RENDEZVOUS", "BOOK", "APPOINTMENT", "NDAJE"),
    "cancel": ("ANNULER", "ANNULE", "CANCEL", "NEENAL"),
    "status": ("STATUT", "STATUS", "ETAT", "NAKA"),
    "help": ("AIDE", "HELP", "MENU", "NDIMBAL"),
}
ENGLISH = {"BOOK", "APPOINTMENT", "CANCEL", "STATUS", "HELP"}
WOLOF = {"NDAJE", "NEENAL", "NAKA", "NDIMBAL"}
# Said in every language: they keep the conversation's language.
NEUTRAL = {"RDV", "RV", "MENU"}
MAX_SERVICES = 8
MAX_DAYS = 6
MAX_SLOTS = 8
WEEKDAYS = {
    "fr": ("lun", "mar", "mer", "jeu", "ven", "sam", "dim"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    # Altine, Talaata, Àllarba, Alxames, Àjjuma, Gaawu, Dibéer.
    "wo": ("alt", "tal", "all", "alx", "ajj", "gaa", "dib"),
}


@dataclass
class Context:
    session: Session
    site: Site
    phone: str
    channel: str
    provider: str
    now: datetime
    rules: booking.BookingRules
    conversation: SmsConversation

    @property
    def language(self) -> str:
        return self.conversation.language


def plain(text: str) -> str:
    """Upper case without accents or punctuation noise: 'Annulér  k7p' → 'ANNULER K7P'."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    ascii_text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^A-Za-z0-9/:.h?-]+", " ", ascii_text).upper().split())


def keyword(word: str) -> tuple[str | None, str | None]:
    """(action, the keyword it matched) for a word, tolerating small typos."""
    word = word.replace("-", "")
    every = {kw: action for action, words in KEYWORDS.items() for kw in words}
    if word in every:
        return every[word], word
    if len(word) >= 3:
        close = difflib.get_close_matches(word, list(every), n=1, cutoff=0.72)
        if close:
            return every[close[0]], close[0]
    return None, None


def language_of_keyword(matched: str) -> str:
    """The language a keyword is written in (RDV, MENU: French, as used everywhere)."""
    if matched in ENGLISH:
        return "en"
    if matched in WOLOF:
        return "wo"
    return "fr"


def handle(
    session: Session,
    site: Site,
    phone: str,
    body: str,
    *,
    channel: str = "sms",
    provider: str = "console",
    now: datetime | None = None,
    rules: booking.BookingRules | None = None,
    minutes: float = 30,
) -> list[str]:
    """Answer one inbound message: the reply texts (confirmations are queued directly)."""
    now = now or utcnow()
    conversation = session.scalar(
        select(SmsConversation)
        .where(SmsConversation.site_id == site.id, SmsConversation.phone == phone)
        .with_for_update()
    )
    if conversation is None:
        conversation = SmsConversation(
            site_id=site.id,
            phone=phone,
            channel=channel,
            language=site.default_language,
            step="idle",
            data={},
            updated_at=now,
            expires_at=now,
        )
        session.add(conversation)
    elif conversation.expires_at <= now:
        conversation.step, conversation.data = "idle", {}
    conversation.channel = channel
    conversation.last_inbound_at = now
    ctx = Context(session, site, phone, channel, provider, now, rules or booking.BookingRules(),
                  conversation)  # fmt: skip
    words = plain(body).split()
    action, matched = keyword(words[0]) if words else (None, None)
    if matched is not None and matched not in NEUTRAL:
        # Replies follow the language of the keyword the citizen used, and keep it.
        conversation.language = language_of_keyword(matched)
    with force_locale(ctx.language):
        replies = _dispatch(ctx, action, words)
    conversation.updated_at = now
    conversation.expires_at = now + timedelta(minutes=minutes)
    session.flush()
    # Every reply fits one segment, whatever a translation made of it.
    return [texts.fit(r) or _cut(r) for r in replies if r]


def _cut(text: str) -> str:
    """A reply too long for one segment (a long translation), cut to one."""
    return texts.render(lambda values: text, {})


def _prefixed(prefix: str, text: str) -> str:
    """``prefix text`` when it fits one segment, else the text alone."""
    return texts.fit(f"{prefix} {text}") or text


def _dispatch(ctx: Context, action: str | None, words: list[str]) -> list[str]:
    step = ctx.conversation.step
    if action == "book":
        return _book_line(ctx, words[1:])
    if action == "cancel":
        return _cancel(ctx, words[1:])
    if action == "status":
        return [_status(ctx)]
    if action == "help" or not words:
        return [_help()]
    if step in ("service", "day", "slot") and words[0].isdigit():
        return _choose(ctx, step, int(words[0]))
    if step in ("service", "day", "slot"):
        return [_(
            "Please reply with a number from the list, or send AIDE."
        )]  # fmt: skip
    return [_help()]


def _help() -> str:
    return texts.render(
        lambda v: _(
            "To book send RDV. To cancel send ANNULER and your code. STATUT: your "
            "appointments. Example: RDV CNI 25/11 9h"
        ),
        {},
    )


# --- menus ---------------------------------------------------------------------------


def menu(header: Callable[[], str], items: list[str], *, names: bool = True) -> str:
    """'<header> 1 X, 2 Y…' in one segment: long names lose words, then fewer items.

    ``names=False``: the items (days, times) are kept whole; only fewer are offered.
    """
    lengths = (40, 28, 20, 14, 10, 7) if names else (1000,)
    for count in range(len(items), 0, -1):
        for length in lengths:
            listed = ", ".join(
                f"{n} {texts.clip(item, length)}" for n, item in enumerate(items[:count], 1)
            )
            fitted = texts.fit(f"{header()} {listed}")
            if fitted is not None:
                return fitted
    return texts.fit(header()) or header()[:150]


def _bookable_services(ctx: Context) -> list[Service]:
    return [s for s in ctx.site.services if s.booking_enabled and s.is_active][:MAX_SERVICES]


def _services_menu(ctx: Context) -> str:
    services = _bookable_services(ctx)
    if not services:
        ctx.conversation.step = "idle"
        return _("This office does not take appointments by SMS.")
    ctx.conversation.step = "service"
    ctx.conversation.data = {"services": [s.id for s in services]}
    return menu(
        lambda: _("Reply with the number of the service:"),
        [texts.service_name(s, ctx.language) for s in services],
    )


def _day_label(day: date, language: str) -> str:
    names = WEEKDAYS.get(language, WEEKDAYS["fr"])
    return f"{names[day.weekday()]} {day.strftime('%d/%m')}"


def _days_menu(ctx: Context, service: Service, note: str | None = None) -> str:
    """The next free days of a service; ``note`` (what was wrong with the day asked) first."""
    days = booking.bookable_days(ctx.session, ctx.site, service, now=ctx.now, rules=ctx.rules,
                                 limit=MAX_DAYS)  # fmt: skip
    if not days:
        ctx.conversation.step = "idle"
        return texts.render(
            lambda v: _("No free slot for %(service)s in the coming days. Try later.", **v),
            {"service": texts.service_name(service, ctx.language)},
        )
    ctx.conversation.step = "day"
    ctx.conversation.data = {"service": service.id, "days": [d.isoformat() for d, _n in days]}
    name = texts.service_name(service, ctx.language)
    lead = f"{note} " if note else ""
    return menu(
        lambda: lead + texts.clip(name, 24) + ". " + _("Reply with the number of the day:"),
        [_day_label(d, ctx.language) for d, _n in days],
        names=False,
    )


def _slots_menu(ctx: Context, service: Service, day: date) -> str:
    slots = [
        s
        for s in booking.available_slots(
            ctx.session, ctx.site, service, day, now=ctx.now, rules=ctx.rules
        )  # fmt: skip
        if s.available > 0
    ]
    if not slots:
        return _days_menu(ctx, service)
    # Spread the offer over the day rather than only its first hour.
    if len(slots) > MAX_SLOTS:
        stride = len(slots) / MAX_SLOTS
        slots = [slots[int(i * stride)] for i in range(MAX_SLOTS)]
    ctx.conversation.step = "slot"
    ctx.conversation.data = {
        "service": service.id,
        "day": day.isoformat(),
        "slots": [s.start.isoformat() for s in slots],
    }
    return menu(
        lambda: _("%(day)s. Reply with the number of the time:", day=_day_label(day, ctx.language)),
        [texts.local_time(local_now(ctx.site, s.start), ctx.language) for s in slots],
        names=False,
    )


def _choose(ctx: Context, step: str, number: int) -> list[str]:
    data = dict(ctx.conversation.data or {})
    if step == "service":
        ids = data.get("services") or []
        if not 1 <= number <= len(ids):
            return [_services_menu(ctx)]
        service = ctx.session.get(Service, ids[number - 1])
        return [_days_menu(ctx, service)] if service else [_services_menu(ctx)]
    service = ctx.session.get(Service, data.get("service"))
    if service is None:
        return [_services_menu(ctx)]
    if step == "day":
        days = data.get("days") or []
        if not 1 <= number <= len(days):
            return [_days_menu(ctx, service)]
        return [_slots_menu(ctx, service, date.fromisoformat(days[number - 1]))]
    slots = data.get("slots") or []
    day = date.fromisoformat(data.get("day") or service_day(ctx.site, ctx.now).isoformat())
    if not 1 <= number <= len(slots):
        return [_slots_menu(ctx, service, day)]
    return _book(ctx, service, datetime.fromisoformat(slots[number - 1]), day)


def _book(ctx: Context, service: Service, start: datetime, day: date) -> list[str]:
    channel = BookingChannel.WHATSAPP if ctx.channel == "whatsapp" else BookingChannel.SMS
    try:
        appointment = booking.book(
            ctx.session, ctx.site, service, start, phone=ctx.phone, channel=channel,
            language=ctx.language, now=ctx.now, rules=ctx.rules,
        )  # fmt: skip
    except booking.SlotFull:
        return [_prefixed(_("That time was just taken."), _slots_menu(ctx, service, day))]
    except booking.AlreadyBooked:
        ctx.conversation.step, ctx.conversation.data = "idle", {}
        return [_("You already have an appointment for this service that day. Send STATUT.")]
    except errors.DomainError:
        return [_slots_menu(ctx, service, day)]
    ctx.conversation.step, ctx.conversation.data = "idle", {}
    # The confirmation (with the reference) is the answer.
    notices.confirm(ctx.session, appointment, gateway=ctx.provider)
    return []


# --- the one-line form: RDV CNI 25/11 9h ------------------------------------------------

DATE_RE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2,4}))?$")
TIME_RE = re.compile(r"^(\d{1,2})(?:H|:|\.|HEURES?)(\d{2})?$|^(\d{1,2})H$")
TODAY = {"AUJ", "AUJOURDHUI", "TODAY", "TEY"}
TOMORROW = {"DEMAIN", "TOMORROW", "SUBA", "ELEG"}


def _book_line(ctx: Context, words: list[str]) -> list[str]:
    if not words:
        return [_services_menu(ctx)]
    services = _bookable_services(ctx)
    service: Service | None = None
    day: date | None = None
    hour: tuple[int, int] | None = None
    rest = []
    today = service_day(ctx.site, ctx.now)
    for word in words:
        if (match := DATE_RE.match(word)) and day is None:
            day = _date_from(match, today)
        elif word in TODAY:
            day = today
        elif word in TOMORROW:
            day = today + timedelta(days=1)
        elif (match := TIME_RE.match(word)) and hour is None:
            h = int(match.group(1) or match.group(3))
            m = int(match.group(2) or 0)
            hour = (h, m) if h < 24 and m < 60 else None
        else:
            rest.append(word)
    service = _match_service(services, rest, ctx.language)
    if service is None:
        return [_services_menu(ctx)]
    if day is None:
        return [_days_menu(ctx, service)]
    verdict = judge_day(ctx.session, ctx.site, service, day, now=ctx.now, rules=ctx.rules)
    if verdict.problem is not None:
        # Say what is wrong with that day, then offer the days that can be booked.
        return [_days_menu(ctx, service, note=_day_problem(verdict, day, ctx.language))]
    if hour is None:
        return [_slots_menu(ctx, service, day)]
    start = datetime.combine(day, datetime.min.time(), tzinfo=zone(ctx.site.timezone)).replace(
        hour=hour[0], minute=hour[1]
    )
    free = [
        s.start
        for s in booking.available_slots(
            ctx.session, ctx.site, service, day, now=ctx.now, rules=ctx.rules
        )  # fmt: skip
        if s.available > 0
    ]
    if start in free:
        return _book(ctx, service, start, day)
    time_label = texts.local_time(start, ctx.language)
    grid = [s for s, _e in booking.slot_grid(ctx.site, service, day, ctx.rules.default_hours)]
    if start not in grid:
        problem = _("No appointment at %(time)s that day.", time=time_label)
    elif start < ctx.now + ctx.rules.min_lead:
        problem = _("%(time)s is too soon.", time=time_label)
    else:
        problem = _("That time is not free.")
    return [_prefixed(problem, _slots_menu(ctx, service, day))]


def _day_problem(verdict: DayVerdict, day: date, language: str) -> str:
    """What stands between the citizen and the day asked, in a few words."""
    label = texts.local_day(day, language)
    if verdict.problem is DayProblem.TOO_FAR:
        return _("Too far ahead: booking is open until %(day)s.",
                 day=texts.local_day(verdict.last_day, language))  # fmt: skip
    if verdict.problem is DayProblem.CLOSED:
        return _("The office is closed on %(day)s.", day=label)
    if verdict.problem is DayProblem.FULL:
        return _("%(day)s is full.", day=label)
    return _("%(day)s has passed.", day=label)


def _date_from(match: re.Match[str], today: date) -> date | None:
    day, month = int(match.group(1)), int(match.group(2))
    year = int(match.group(3)) if match.group(3) else today.year
    if year < 100:
        year += 2000
    try:
        found = date(year, month, day)
    except ValueError:
        return None
    if not match.group(3) and (today - found).days > 31:
        # 05/01 sent in December: next January (a date of the last weeks: a past day).
        found = date(year + 1, month, day)
    return found


def _match_service(services: list[Service], words: list[str], language: str) -> Service | None:
    if not words:
        return None
    if len(words) == 1 and words[0].isdigit() and 1 <= int(words[0]) <= len(services):
        return services[int(words[0]) - 1]
    joined = " ".join(words)
    by_code = {plain(s.code).replace(" ", ""): s for s in services}
    for word in words:
        if word.replace("-", "") in by_code:
            return by_code[word.replace("-", "")]
    names = {plain(s.name_in(language)): s for s in services}
    names.update({plain(s.sms_name): s for s in services if s.sms_name})
    for name, service in names.items():
        if joined in name or name.startswith(joined):
            return service
    close = difflib.get_close_matches(joined, list(names) + list(by_code), n=1, cutoff=0.6)
    if close:
        return names.get(close[0]) or by_code.get(close[0])
    return None


# --- cancel and status ---------------------------------------------------------------


def _cancel(ctx: Context, words: list[str]) -> list[str]:
    ctx.conversation.step, ctx.conversation.data = "idle", {}
    upcoming = booking.upcoming_for_phone(ctx.session, ctx.site, ctx.phone, now=ctx.now)
    target: Appointment | None = None
    if words:
        reference = booking.normalize_reference("".join(words))
        target = next((a for a in upcoming if a.reference == reference), None)
        if target is None:
            return [
                texts.render(
                    lambda v: _("No appointment %(ref)s for this number. Send STATUT.", **v),
                    {"ref": reference[:8]},
                )
            ]
    elif len(upcoming) == 1:
        target = upcoming[0]
    elif not upcoming:
        return [_("You have no appointment to cancel. To book send RDV")]
    else:
        refs = " ".join(a.reference for a in upcoming[:4])
        return [
            texts.render(
                lambda v: _("Which one? Send ANNULER and the code: %(refs)s", **v), {"refs": refs}
            )
        ]
    booking.cancel(ctx.session, target, now=ctx.now)
    notices.cancelled(ctx.session, target, gateway=ctx.provider)
    return []


def _status(ctx: Context) -> str:
    ctx.conversation.step, ctx.conversation.data = "idle", {}
    ticket = ctx.session.scalar(
        select(Ticket)
        .where(
            Ticket.site_id == ctx.site.id,
            Ticket.phone == ctx.phone,
            Ticket.service_day == service_day(ctx.site, ctx.now),
            Ticket.status == TicketStatus.WAITING,
        )
        .order_by(Ticket.id.desc())
        .limit(1)
    )
    if ticket is not None:
        ahead = position_of(ctx.session, ticket) or 0
        return texts.render(
            lambda v: _("Ticket %(label)s: %(position)s", **v),
            {"label": ticket.label, "position": texts.position_sentence(ahead)},
        )
    upcoming = booking.upcoming_for_phone(ctx.session, ctx.site, ctx.phone, now=ctx.now)
    if not upcoming:
        return _("You have no appointment. To book send RDV")
    first = upcoming[0]
    values: Mapping[str, Any] = notices.appointment_values(first, ctx.language)
    more = len(upcoming) - 1
    return texts.render(
        lambda v: (
            _("Appointment %(ref)s: %(service)s, %(day)s at %(time)s.", **v)
            + (" " + _("And %(count)s more.", count=more) if more else "")
        ),
        values,
    )
