"""Every text we send by SMS, each fitting ONE segment (Senegal accepts no multi-part SMS).

A segment is 160 GSM-7 characters, or 70 UCS-2 characters as soon as one
character is outside GSM-7 (ê, ô, ç, ’, «, —…). Texts are rendered in the
citizen's language; when a text would need UCS-2 and is longer than 70, the
characters outside GSM-7 are replaced by their closest GSM-7 letter (ê → e),
and when it is still too long the variable parts (service and office names)
are shortened by whole words (small words first), never cut inside a word nor
marked with dots, and never the fixed wording nor the reference.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _

from ..infra.position_text import position_phrase

GSM_LIMIT = 160
UCS2_LIMIT = 70

# GSM 03.38 basic set, and the extension set (each costs two septets).
GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = set("^{}\\[~]|€\f")

# Closest GSM-7 spelling of common characters that are not in it.
_GSM_FALLBACK = {
    "’": "'", "‘": "'", "ʼ": "'", "«": '"', "»": '"', "“": '"', "”": '"',
    "—": "-", "–": "-", "…": "...", "\u00a0": " ", "\u202f": " ", "œ": "oe", "Œ": "OE",
    "ç": "c", "â": "a", "ê": "e", "î": "i", "ô": "o", "û": "u", "ë": "e", "ï": "i",
    "ÿ": "y", "À": "A", "Â": "A", "È": "E", "Ê": "E", "Ë": "E", "Î": "I", "Ï": "I",
    "Ô": "O", "Ù": "U", "Û": "U", "á": "a", "í": "i", "ó": "o", "ú": "u",
}  # fmt: skip


def is_gsm(text: str) -> bool:
    """Whether the text can be sent in the GSM-7 alphabet."""
    return all(char in GSM_BASIC or char in GSM_EXTENSION for char in text)


def segment_length(text: str) -> tuple[int, int]:
    """(units used, units allowed) in one segment: GSM-7 septets of 160, or UCS-2 of 70."""
    if is_gsm(text):
        return sum(2 if char in GSM_EXTENSION else 1 for char in text), GSM_LIMIT
    # UTF-16 code units: a character beyond the BMP (an emoji) takes two.
    return len(text.encode("utf-16-le")) // 2, UCS2_LIMIT


def fits_one_segment(text: str) -> bool:
    used, allowed = segment_length(text)
    return used <= allowed


def to_gsm(text: str) -> str:
    """The text with every non-GSM-7 character replaced by its closest GSM-7 spelling."""
    out = []
    for char in text:
        if char in GSM_BASIC or char in GSM_EXTENSION:
            out.append(char)
        elif char in _GSM_FALLBACK:
            out.append(_GSM_FALLBACK[char])
        else:
            plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(plain if plain and is_gsm(plain) else "?")
    return "".join(out)


def fit(text: str) -> str | None:
    """The text as sent (kept as is, or spelled in GSM-7), or None when it needs shortening."""
    text = " ".join(text.split())
    if fits_one_segment(text):
        return text
    plain = to_gsm(text)
    return plain if fits_one_segment(plain) else None


# Words a name can lose and still be read ("Carte nationale d'identité" →
# "Carte nationale identité"); a name is shortened by whole words, never cut
# inside a word or marked with dots.
OPTIONAL_WORDS = {
    "de", "du", "des", "la", "le", "les", "et", "ou", "en", "à", "au", "aux", "pour", "sur",
    "of", "the", "and", "for", "a", "an", "ak", "ci", "bi", "yi",
}  # fmt: skip
_ELIDED = ("d'", "l'", "d’", "l’")
_TRAILING = " ,;:-—–/"


def word_forms(value: str) -> list[str]:
    """Ever shorter whole-word forms of a name: as written, without what is in brackets,
    without small words, then with fewer words (at least the first one)."""
    full = " ".join(str(value).split())
    forms = [full]
    no_brackets = " ".join(re.sub(r"\s*\([^)]*\)", "", full).split()).strip(_TRAILING)
    forms.append(no_brackets or full)
    words = []
    for word in forms[-1].split():
        bare = word.lower().strip(_TRAILING)
        if bare in OPTIONAL_WORDS or bare in ("-", "—", "–"):
            continue
        for prefix in _ELIDED:
            if word.lower().startswith(prefix) and len(word) > len(prefix):
                word = word[len(prefix) :]
        words.append(word)
    if words:
        forms.append(" ".join(words))
        for count in range(len(words) - 1, 0, -1):
            forms.append(" ".join(words[:count]).rstrip(_TRAILING))
    unique: list[str] = []
    for form in forms:
        if form and form not in unique and (not unique or len(form) < len(unique[-1])):
            unique.append(form)
    return unique or [full]


def service_name(service: Any, language: str) -> str:
    """A service as SMS name it: its short SMS name (set by the office, in its own
    language), else its name in the citizen's language."""
    if service.sms_name and language == service.site.default_language:
        return str(service.sms_name)
    return str(service.name_in(language))


def clip(value: str, length: int) -> str:
    """The longest whole-word form of a name within ``length`` characters (else its shortest)."""
    forms = word_forms(value)
    return next((form for form in forms if len(form) <= length), forms[-1])


def shorten(value: str, length: int) -> str:
    """Kept for callers of the old name: :func:`clip` (whole words, no dots)."""
    return clip(value, length)


def render(build: Callable[[Mapping[str, Any]], str], values: Mapping[str, Any], *,
           shrinkable: tuple[str, ...] = ("service", "site")) -> str:  # fmt: skip
    """Build a text from values, shortening the ``shrinkable`` ones by whole words (the
    longest first) until it fits one segment."""
    forms = {k: word_forms(str(values[k])) for k in shrinkable if values.get(k)}
    step = dict.fromkeys(forms, 0)
    while True:
        current = {**values, **{k: forms[k][step[k]] for k in forms}}
        text = fit(build(current))
        if text is not None:
            return text
        candidates = [k for k in forms if step[k] + 1 < len(forms[k])]
        if not candidates:
            break
        longest = max(candidates, key=lambda k: len(forms[k][step[k]]))
        step[longest] += 1
    # Last resort (a translation too long by itself): whole words up to one segment.
    words = to_gsm(" ".join(build(current).split())).split(" ")
    while len(words) > 1 and not fits_one_segment(" ".join(words)):
        words.pop()
    return " ".join(words)[:GSM_LIMIT]


# --- the texts -----------------------------------------------------------------
# Each builder takes the values and returns the text in the current locale.
# Keep the wording short: with long office and service names every text must
# still fit one segment (tests/test_sms_texts.py checks all of them).


def _confirmation(v: Mapping[str, Any]) -> str:
    return _(
        "Appointment %(ref)s confirmed: %(service)s, %(day)s at %(time)s, %(site)s. "
        "To cancel send ANNULER %(ref)s",
        **v,
    )


def _reminder_day_before(v: Mapping[str, Any]) -> str:
    return _(
        "Reminder: appointment %(ref)s tomorrow %(day)s at %(time)s, %(service)s, %(site)s. "
        "Check in at the kiosk with %(ref)s",
        **v,
    )


def _reminder_same_day(v: Mapping[str, Any]) -> str:
    return _(
        "Reminder: appointment %(ref)s today at %(time)s, %(service)s, %(site)s. "
        "Check in at the kiosk with %(ref)s",
        **v,
    )


def _cancelled(v: Mapping[str, Any]) -> str:
    return _(
        "Appointment %(ref)s of %(day)s at %(time)s is cancelled. To book again send RDV",
        **v,
    )


def _office_closed(v: Mapping[str, Any]) -> str:
    return _(
        "%(site)s is closed on %(day)s: appointment %(ref)s is cancelled. "
        "Sorry. To book again send RDV",
        **v,
    )


def position_sentence(ahead: int | None) -> str:
    """The people ahead as the ticket and the tracking page say it, ending a sentence."""
    said = position_phrase(ahead)
    return said if said.endswith(("!", ".")) else said + "."


def _turn_near(v: Mapping[str, Any]) -> str:
    return _(
        "%(label)s: your turn is near. %(position)s %(service)s, %(site)s. Stay close.",
        **{**v, "position": position_sentence(v["ahead"])},
    )


TEMPLATES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "confirmation": _confirmation,
    "reminder_day_before": _reminder_day_before,
    "reminder_same_day": _reminder_same_day,
    "cancelled": _cancelled,
    "office_closed": _office_closed,
    "turn_near": _turn_near,
}


def message(kind: str, language: str, **values: Any) -> str:
    """The text of a notice (TEMPLATES) in a language, fitting one SMS segment."""
    with force_locale(language):
        return render(TEMPLATES[kind], values)


def local_day(moment: Any, language: str) -> str:
    """25/11 (the short date people write in SMS)."""
    return str(moment.strftime("%d/%m"))


def local_time(moment: Any, language: str) -> str:
    """9h30 in French and Wolof, 09:30 in English."""
    if language in ("fr", "wo"):
        return f"{moment.hour}h{moment.minute:02d}"
    return str(moment.strftime("%H:%M"))
