"""Which office an SMS is for when several offices share one number (a national short code,
one gateway phone): the office named in the message ("RDV THIES CNI"), else the one the
citizen chose earlier in the conversation, else a numbered list to choose from.

The choice is kept in an ``SmsConversation`` without a site (one per phone number), for
as long as a conversation lasts (SMS_CONVERSATION_MINUTES after the last message).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Site, SmsConversation

# The office's SMS word is the domain's (queue/keywords.py); named here as before.
from ..queue.keywords import KEYWORD_LENGTH as KEYWORD_LENGTH
from ..queue.keywords import default_keyword as default_keyword
from ..queue.keywords import keyword_of, plain_word

MAX_OFFICES = 9


@dataclass
class Routed:
    """An office found for the message, and the message without the office's name."""

    site: Site
    body: str


@dataclass
class Menu:
    """No office found: the list to choose from (the reply), sent on behalf of ``site``."""

    site: Site
    reply: str


def named_office(sites: Sequence[Site], body: str) -> Routed | None:
    """The office whose keyword is a word of the message (or two words run together)."""
    words = body.split()
    plain = [plain_word(word) for word in words]
    by_keyword = {keyword_of(site): site for site in sites}
    for index, word in enumerate(plain):
        for width in (1, 2):
            joined = "".join(plain[index : index + width])
            if width == 2 and index + 1 >= len(plain):
                continue
            if joined in by_keyword:
                rest = words[:index] + words[index + width :]
                return Routed(by_keyword[joined], " ".join(rest))
        if word in by_keyword:
            break
    return None


def _shared_conversation(session: Session, phone: str) -> SmsConversation | None:
    return session.scalar(
        select(SmsConversation)
        .where(SmsConversation.site_id.is_(None), SmsConversation.phone == phone)
        .with_for_update()
    )


def route(
    session: Session,
    sites: Sequence[Site],
    phone: str,
    body: str,
    *,
    language: str | None,
    now: datetime,
    minutes: float,
) -> Routed | Menu:
    """The office a message on a shared number is for, or the list of offices to send.

    ``language``: that of the message's keyword, if it had one (the list is written in
    it). Flushes the shared conversation; the caller commits.
    """
    sites = sorted(sites, key=lambda s: s.id)
    conversation = _shared_conversation(session, phone)
    if conversation is not None and conversation.expires_at <= now:
        conversation.step, conversation.data = "idle", {}
    if conversation is None:
        conversation = SmsConversation(
            site_id=None, phone=phone, channel="sms",
            language=language or sites[0].default_language,
            step="idle", data={}, updated_at=now, expires_at=now,
        )  # fmt: skip
        session.add(conversation)
    if language:
        conversation.language = language
    conversation.updated_at = now
    conversation.last_inbound_at = now
    conversation.expires_at = now + timedelta(minutes=minutes)
    by_id = {site.id: site for site in sites}
    data = dict(conversation.data or {})

    named = named_office(sites, body)
    if named is not None:
        conversation.step, conversation.data = "chosen", {"site": named.site.id}
        session.flush()
        return named
    words = body.split()
    if conversation.step == "office" and len(words) == 1 and words[0].isdigit():
        offered = [i for i in data.get("offices", []) if i in by_id]
        number = int(words[0])
        if 1 <= number <= len(offered):
            chosen = by_id[offered[number - 1]]
            conversation.step, conversation.data = "chosen", {"site": chosen.id}
            session.flush()
            # The first message (the one that got the list) is answered now.
            return Routed(chosen, str(data.get("pending") or ""))
    if conversation.step == "chosen" and data.get("site") in by_id:
        session.flush()
        return Routed(by_id[data["site"]], body)
    offered_sites = sites[:MAX_OFFICES]
    conversation.step = "office"
    conversation.data = {"offices": [s.id for s in offered_sites], "pending": body[:300]}
    session.flush()
    with force_locale(conversation.language):
        reply = office_menu(offered_sites)
    return Menu(sites[0], reply)


def office_menu(sites: Sequence[Site]) -> str:
    """'Which office? Reply with its number: 1 Thiès, 2 Dakar…' in one segment."""
    from .dialogue import menu

    first = keyword_of(sites[0]) if sites else "THIES"
    return menu(
        lambda: _(
            "Which office? Reply with its number, or write its name after RDV (RDV %(word)s):",
            word=first,
        ),
        distinct_names(sites),
    )


def distinct_names(sites: Sequence[Site]) -> list[str]:
    """The offices' names without the words they all begin with ("Espace Sénégal Services
    — Thiès", "… — Dakar" → "Thiès", "Dakar"): what tells them apart, in few characters."""
    names = [site.name.split() for site in sites]
    common = 0
    if len(names) > 1:
        while all(len(n) > common + 1 for n in names) and len({n[common] for n in names}) == 1:
            common += 1
    return [
        " ".join(n[common:]).strip(" -—–,:") or site.name
        for n, site in zip(names, sites, strict=True)
    ]
