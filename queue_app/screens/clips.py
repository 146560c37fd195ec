"""Recordings an office uploads for spoken calls, per language, kept in the database.

A call is spoken from clips joined together: ``chime``, ``ticket``, one
``letter-x`` per letter of the prefix, the number (``number-0`` to
``number-99``, with ``hundred-1`` to ``hundred-9`` before it from 100 on),
then the counter: ``counter-<id>`` (its whole name spoken) when the office
recorded one, else ``counter`` (the word, "guichet") and the number in its name.
The display prefers an office's clips to the browser's voice and to the set
generated at build time.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Site, User, VoiceClip, utcnow
from ..queue import errors
from ..realtime.publish import iso

CLIP_KEY_RE = re.compile(
    r"^(chime|ticket|counter|letter-[a-z]|number-(?:[0-9]|[1-9][0-9])|hundred-[1-9]|counter-[1-9][0-9]{0,8})$"
)
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")
# The keys of a complete set (``counter-<id>`` ones are optional extras).
CLIP_KEYS = (
    ["chime", "ticket", "counter"]
    + [f"letter-{chr(c)}" for c in range(ord("a"), ord("z") + 1)]
    + [f"number-{n}" for n in range(100)]
    + [f"hundred-{n}" for n in range(1, 10)]
)


def sniff_audio(data: bytes) -> str | None:
    """The audio type of a recording from its first bytes (never from what the client says)."""
    if data.startswith(b"OggS"):
        return "audio/ogg"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data.startswith(b"ID3") or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "audio/webm"
    return None


def _check_names(language: str, key: str) -> None:
    if not LANGUAGE_RE.match(language or ""):
        raise errors.InvalidInput(field="language", expected="a language code such as fr or wo")
    if not CLIP_KEY_RE.match(key or ""):
        raise errors.InvalidInput(
            field="key",
            expected="chime, ticket, counter, letter-a..letter-z, number-0..number-99, "
            "hundred-1..hundred-9 or counter-<id>",
        )


def put_clip(
    session: Session,
    site: Site,
    language: str,
    key: str,
    data: bytes,
    *,
    max_bytes: int,
    user: User | None = None,
) -> VoiceClip:
    """Store (or replace) one recording; checks its name, size and that it is audio."""
    _check_names(language, key)
    if not data:
        raise errors.InvalidInput(field="body", reason="empty recording")
    if len(data) > max_bytes:
        raise errors.InvalidInput(field="body", max_bytes=max_bytes, size=len(data))
    content_type = sniff_audio(data)
    if content_type is None:
        raise errors.InvalidInput(field="body", expected="an OGG, MP3, WAV or WebM recording")
    clip = get_clip(session, site, language, key, required=False)
    if clip is None:
        clip = VoiceClip(site_id=site.id, language=language, key=key)
        session.add(clip)
    clip.data = data
    clip.size = len(data)
    clip.content_type = content_type
    clip.sha256 = hashlib.sha256(data).hexdigest()
    clip.uploaded_by = user.id if user is not None else None
    clip.updated_at = utcnow()
    session.flush()
    return clip


def get_clip(
    session: Session, site: Site, language: str, key: str, *, required: bool = True
) -> VoiceClip | None:
    """One recording of a site, else NotFound (or None when not ``required``)."""
    clip = session.scalar(
        select(VoiceClip).where(
            VoiceClip.site_id == site.id, VoiceClip.language == language, VoiceClip.key == key
        )
    )
    if clip is None and required:
        raise errors.NotFound(clip=f"{language}/{key}")
    return clip


def delete_clip(session: Session, site: Site, language: str, key: str) -> None:
    """Remove one recording (the display falls back to the voice or the built-in set)."""
    clip = get_clip(session, site, language, key)
    session.delete(clip)


def clip_manifest(session: Session, site: Site) -> list[dict[str, Any]]:
    """The site's recordings without their bytes: language, key, type, size, digest."""
    rows = session.execute(
        select(
            VoiceClip.language,
            VoiceClip.key,
            VoiceClip.content_type,
            VoiceClip.size,
            VoiceClip.sha256,
            VoiceClip.updated_at,
        )
        .where(VoiceClip.site_id == site.id)
        .order_by(VoiceClip.language, VoiceClip.key)
    ).all()
    return [
        {
            "language": language,
            "key": key,
            "content_type": content_type,
            "size": size,
            "sha256": sha256,
            "updated_at": iso(updated_at),
        }
        for language, key, content_type, size, sha256, updated_at in rows
    ]
