"""The word that names an office in an SMS to a shared number (sms/offices.py routes by it)."""

from __future__ import annotations

import re
import unicodedata

from ..models import Site

KEYWORD_LENGTH = 20


def default_keyword(site: Site) -> str:
    """The keyword of an office that has none set: its slug in capitals, without dashes."""
    return plain_word(site.slug)[:KEYWORD_LENGTH]


def keyword_of(site: Site) -> str:
    return plain_word(site.sms_keyword) if site.sms_keyword else default_keyword(site)


def plain_word(text: str) -> str:
    """'Thiès-Nord' → 'THIESNORD': capitals, no accents, letters and digits only."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    ascii_text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^A-Z0-9]", "", ascii_text.upper())
