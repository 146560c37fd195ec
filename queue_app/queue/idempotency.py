"""Idempotency keys: a create that may be sent twice makes its resource once.

The one helper for every create a device, a person or a provider may retry:
tickets now (the ``Idempotency-Key`` header of ``POST /sites/<slug>/tickets``),
appointment bookings and inbound SMS message ids next. In the transaction
that creates the resource::

    claimed = idempotency.claim(
        session,
        idempotency.scope_of(actor),                # or "sms:twilio", ...
        key,                                        # what the sender sent
        idempotency.fingerprint(service=service.id, phone=phone),  # the request
        "appointment",                              # the kind of resource
        expires_at=idempotency.end_of_day(site, service_day(site, now)),
        resource_ref=reference,                     # when known before creating
    )
    if claimed.replayed:
        return load_by_reference(claimed.resource_ref)   # the first request's resource
    resource = create(...)
    # Only when resource_ref was not known before creating it:
    idempotency.remember(session, claimed, resource.reference)
    session.commit()                                # the key and the resource together

What a key means:

* **Per sender.** ``scope`` names who sent the key: ``device:<id>``,
  ``user:<id>`` (:func:`scope_of`), or a provider (``sms:twilio``). The same key
  from two senders is two keys.
* **Until it expires.** A key holds until ``expires_at`` (for tickets: the end
  of the site's service day, :func:`end_of_day`). Afterwards the same key
  makes a new resource; the ``idempotency`` job deletes expired keys.
* **For one request.** ``fingerprint`` digests the request's meaning
  (:func:`fingerprint`). The same key with another fingerprint, or for another
  kind of resource, raises :class:`~.errors.IdempotencyKeyMismatch` (422
  ``idempotency_key_mismatch``) instead of replaying something else.
* **Once, under concurrency.** The claim is one INSERT ... ON CONFLICT against
  a unique (scope, key): of concurrent requests with one key, one claims it and
  creates; the others wait for its commit (PostgreSQL) or run after it (SQLite's
  writer lock) and replay its resource. When the claimer rolls back, its key is
  gone with its resource and the next request claims afresh.
* **Cheap.** A fresh key costs one statement (the claim); with
  ``resource_ref`` given up front there is nothing to remember afterwards. A
  replay costs one more (reading the key). Without a key, call nothing.

The caller rolls back when the create fails after the claim (every view does
when a DomainError escapes), so that no key outlives a resource never made.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, delete, select, text, update
from sqlalchemy.orm import Session

from ..models import IdempotencyKey, utcnow
from ..models.base import TZDateTime
from . import errors
from .actors import Actor
from .days import end_of_day

__all__ = [
    "Claim",
    "Key",
    "claim",
    "end_of_day",
    "fingerprint",
    "purge_expired",
    "remember",
    "scope_of",
]

_KEYS: Table = cast(Table, IdempotencyKey.__table__)


# One statement for both databases, in their common ON CONFLICT syntax (a text()
# statement: the dialect insert constructs are recompiled at every call, and this
# runs with every kiosk ticket). An expired key is taken over in the same
# statement; a live one is left alone, and then RETURNING gives no row.
_CLAIM = text(
    'INSERT INTO idempotency_keys (scope, "key", fingerprint, resource_kind, resource_ref, '
    "created_at, expires_at) "
    "VALUES (:scope, :key, :fingerprint, :resource_kind, :resource_ref, :created_at, "
    ":expires_at) "
    'ON CONFLICT (scope, "key") DO UPDATE SET '
    "fingerprint = excluded.fingerprint, resource_kind = excluded.resource_kind, "
    "resource_ref = excluded.resource_ref, created_at = excluded.created_at, "
    "expires_at = excluded.expires_at "
    "WHERE idempotency_keys.expires_at <= excluded.created_at "
    "RETURNING id"
).bindparams(
    bindparam("created_at", type_=TZDateTime()), bindparam("expires_at", type_=TZDateTime())
)

_FIND = select(_KEYS.c.fingerprint, _KEYS.c.resource_kind, _KEYS.c.resource_ref).where(
    _KEYS.c.scope == bindparam("scope"), _KEYS.c.key == bindparam("key")
)

_REMEMBER = (
    update(_KEYS)
    .where(_KEYS.c.scope == bindparam("scope_"), _KEYS.c.key == bindparam("key_"))
    .values(resource_ref=bindparam("ref"))
)

_EXPIRED = (
    select(_KEYS.c.id)
    .where(_KEYS.c.expires_at <= bindparam("now", type_=TZDateTime()))
    .limit(bindparam("batch"))
)
_PURGE = delete(_KEYS).where(_KEYS.c.id.in_(_EXPIRED.scalar_subquery()))


@dataclass(frozen=True)
class Key:
    """An idempotency key as a sender sent it, with the secret its fingerprints are keyed with.

    The secret is the application's (its ``SECRET_KEY``): the edge that reads
    the key from a request passes both.
    """

    value: str
    secret: bytes


@dataclass(frozen=True)
class Claim:
    """The outcome of :func:`claim`: a fresh key, or the replay of an earlier request."""

    scope: str
    key: str
    kind: str
    # What the first request created (None until remembered, or for kinds without one).
    resource_ref: str | None
    # True when an earlier request holds the key: answer its resource, create nothing.
    replayed: bool


def scope_of(actor: Actor) -> str:
    """The scope of a key sent by a device or a user (``device:12``, ``user:5``)."""
    if actor.device_id is not None:
        return f"device:{actor.device_id}"
    if actor.user_id is not None:
        return f"user:{actor.user_id}"
    return "system"


def fingerprint(secret: bytes, **fields: object) -> str:
    """A digest of a request's meaning (64 hex characters), the same whatever the field order.

    Give the values that make the request what it is, normalised (an E.164
    phone, a service id), not how it was written. Keyed with the application's
    secret: a stored digest of a request that carried a phone number does not
    give the number back to whoever reads the table (a phone number is few
    enough digits to try them all against a plain hash).
    """
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(secret, canonical.encode(), hashlib.sha256).hexdigest()


def claim(
    session: Session,
    scope: str,
    key: str,
    fingerprint: str,
    kind: str,
    *,
    expires_at: datetime,
    resource_ref: str | None = None,
    now: datetime | None = None,
) -> Claim:
    """Claim ``key`` for a request of ``scope``, or find the request that holds it.

    Fresh (``replayed`` False): the key is now this transaction's; create the
    resource and commit (``remember`` it first unless ``resource_ref`` was
    given). Replayed: an earlier request of this scope holds the key with the
    same fingerprint and kind; ``resource_ref`` names what it created. Raises
    IdempotencyKeyMismatch when that request was a different one. On
    PostgreSQL waits for a concurrent transaction claiming the same key.
    """
    now = now or utcnow()
    values = {
        "scope": scope,
        "key": key,
        "fingerprint": fingerprint,
        "resource_kind": kind,
        "resource_ref": resource_ref,
        "created_at": now,
        "expires_at": expires_at,
    }
    # Twice at most: a key that expires and is purged between the two statements
    # below is claimed on the second round.
    for _ in range(2):
        if session.execute(_CLAIM, values).first() is not None:
            return Claim(scope, key, kind, resource_ref, replayed=False)
        held = session.execute(_FIND, {"scope": scope, "key": key}).first()
        if held is not None:
            if held.fingerprint != fingerprint or held.resource_kind != kind:
                raise errors.IdempotencyKeyMismatch()
            return Claim(scope, key, kind, held.resource_ref, replayed=True)
    raise RuntimeError(f"idempotency key {key!r} of {scope} could not be claimed")


def remember(session: Session, claimed: Claim, resource_ref: str) -> Claim:
    """Record what a fresh claim created (one UPDATE), for its replays to find."""
    if claimed.replayed:
        raise ValueError("a replayed claim already names its resource")
    session.execute(_REMEMBER, {"scope_": claimed.scope, "key_": claimed.key, "ref": resource_ref})
    return Claim(claimed.scope, claimed.key, claimed.kind, resource_ref, replayed=False)


def purge_expired(session: Session, *, now: datetime | None = None, batch: int = 5000) -> int:
    """Delete up to ``batch`` expired keys; returns how many (the caller commits)."""
    result = session.execute(_PURGE, {"now": now or utcnow(), "batch": batch})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
