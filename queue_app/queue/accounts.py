"""Users, passwords and tokens (users' API tokens and devices' tokens)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, event, or_, select
from sqlalchemy.orm import Session, joinedload, object_session

from ..models import ApiToken, Device, DeviceKind, Role, Site, User, UserSession, utcnow
from ..models.accounts import new_security_stamp
from . import changes, errors, ports
from .passwords import check_password_hash, generate_password_hash

USER_TOKEN_PREFIX = "gu_"  # noqa: S105 (a prefix, not a secret)
DEVICE_TOKEN_PREFIX = "gd_"  # noqa: S105
MIN_PASSWORD_LENGTH = 8
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Checked against when the e-mail is unknown, so both cases take the same time.
_DUMMY_HASH = generate_password_hash("not a password of anyone")


def hash_token(token: str) -> str:
    """SHA-256 of a token: what the database keeps (tokens are long and random)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str) -> str:
    """A fresh random bearer token with its kind prefix."""
    return prefix + secrets.token_urlsafe(32)


def normalize_email(email: str) -> str:
    """Trimmed, lower-cased e-mail; InvalidInput when it is not one."""
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise errors.InvalidInput(field="email")
    return email


def create_user(
    session: Session,
    email: str,
    password: str,
    role: Role,
    *,
    sites: Sequence[Site] = (),
    full_name: str = "",
    locale: str | None = None,
) -> User:
    """Create a user with a hashed password; Conflict when the e-mail is taken."""
    email = normalize_email(email)
    validate_password(password)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise errors.Conflict(field="email")
    if role != Role.ADMIN and not sites:
        raise errors.InvalidInput(field="sites", reason="managers and agents belong to a site")
    user = User(
        email=email,
        password_hash=generate_password_hash(password),
        role=role,
        full_name=full_name.strip(),
        locale=locale,
        sites=list(sites),
    )
    session.add(user)
    session.flush()
    return user


def validate_password(password: str) -> None:
    """Refuse passwords too short to resist guessing."""
    if not password or len(password) < MIN_PASSWORD_LENGTH:
        raise errors.InvalidInput(field="password", min_length=MIN_PASSWORD_LENGTH)


def set_password(user: User, password: str) -> None:
    """Replace a user's password; every session and API token of the user ends at commit."""
    validate_password(password)
    user.password_hash = generate_password_hash(password)


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, else None.

    The user is read and the (deliberately slow) hash checked in a reading
    transaction of its own, ended before returning: on SQLite a sign-in holds
    no write lock while it hashes; recording the sign-in is the caller's write.
    """
    with ports.read_transaction(session):
        user = session.scalar(select(User).where(User.email == (email or "").strip().lower()))
        if user is None:
            check_password_hash(_DUMMY_HASH, password or "")
            return None
        if not check_password_hash(user.password_hash, password or "") or not user.is_active:
            return None
        return user


def issue_api_token(
    session: Session, user: User, ttl: timedelta, *, now: datetime | None = None
) -> tuple[str, ApiToken]:
    """Give a user a bearer token valid for ``ttl``; prunes the user's ended ones."""
    now = now or utcnow()
    session.execute(
        delete(ApiToken).where(
            ApiToken.user_id == user.id,
            or_(ApiToken.expires_at < now, ApiToken.security_stamp != user.security_stamp),
        )
    )
    token = new_token(USER_TOKEN_PREFIX)
    row = ApiToken(
        user_id=user.id,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=now + ttl,
        security_stamp=user.security_stamp,
    )
    session.add(row)
    session.flush()
    return token, row


def resolve_token(
    session: Session, token: str, *, now: datetime | None = None
) -> User | Device | None:
    """The active user or device a bearer token stands for, else None."""
    now = now or utcnow()
    if token.startswith(USER_TOKEN_PREFIX):
        row = session.scalar(
            select(ApiToken)
            .options(joinedload(ApiToken.user, innerjoin=True))
            .where(ApiToken.token_hash == hash_token(token))
        )
        if row is None or not _still_valid(row.user, row.security_stamp, row.expires_at, now):
            return None
        return row.user
    if token.startswith(DEVICE_TOKEN_PREFIX):
        device = session.scalar(select(Device).where(Device.token_hash == hash_token(token)))
        if device is None or device.revoked_at is not None:
            return None
        return device
    return None


def resolve_token_cached(
    session: Session, token: str, *, now: datetime | None = None
) -> User | Device | None:
    """:func:`resolve_token` through the per-process cache (hotcache.py), for the API.

    A revocation, a deleted token, a deactivation or a password change drops the
    cache in every process (hotcache.py); a user token's expiry is checked on
    every use.
    """
    from ..infra.snapshots import attach

    who = cached_token_holder(session, token, now=now)
    return attach(session, who) if who is not None else None


def cached_token_holder(
    session: Session, token: str, *, now: datetime | None = None
) -> User | Device | None:
    """:func:`resolve_token_cached`'s answer as the cache holds it: detached, shared.

    For hot paths that only read its columns (the issue endpoint); never change it.
    """
    from ..infra.snapshots import snapshot

    now = now or utcnow()
    digest = hash_token(token)

    def load() -> tuple[Any, ...] | None:
        if token.startswith(USER_TOKEN_PREFIX):
            row = session.scalar(
                select(ApiToken)
                .options(joinedload(ApiToken.user, innerjoin=True).selectinload(User.sites))
                .where(ApiToken.token_hash == digest)
            )
            if row is None:
                return None
            return (snapshot(row.user), row.security_stamp, row.expires_at)
        if token.startswith(DEVICE_TOKEN_PREFIX):
            device = session.scalar(select(Device).where(Device.token_hash == digest))
            if device is None or device.revoked_at is not None:
                return None
            return (snapshot(device), None, None)
        return None

    found = ports.cached(("token", digest), load)
    if found is None:
        return None
    who, stamp, expires_at = found
    if isinstance(who, User) and not _still_valid(who, stamp, expires_at, now):
        return None
    return who


def _still_valid(user: User, stamp: str, expires_at: datetime, now: datetime) -> bool:
    # A password change or a deactivation gave the user a new stamp since.
    return expires_at > now and user.is_active and stamp == user.security_stamp


# --- web sessions ------------------------------------------------------------------------


def start_web_session(
    session: Session, user: User, ttl: timedelta, *, remember: bool, now: datetime | None = None
) -> tuple[str, UserSession]:
    """Record a sign-in on the web pages; returns the secret the cookies carry, and its row.

    Prunes the user's sessions that ended (expired, or issued under an older stamp).
    """
    now = now or utcnow()
    session.execute(
        delete(UserSession).where(
            UserSession.user_id == user.id,
            or_(UserSession.expires_at < now, UserSession.security_stamp != user.security_stamp),
        )
    )
    secret = secrets.token_urlsafe(32)
    row = UserSession(
        user_id=user.id,
        token_hash=hash_token(secret),
        security_stamp=user.security_stamp,
        remember=remember,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    session.flush()
    return secret, row


def resolve_web_session(
    session: Session, secret: str, *, now: datetime | None = None
) -> User | None:
    """The active user signed in with this secret (a session or "stay signed in" cookie)."""
    if not secret or len(secret) > 100:
        return None
    row = session.scalar(
        select(UserSession)
        .options(joinedload(UserSession.user, innerjoin=True))
        .where(UserSession.token_hash == hash_token(secret))
    )
    if row is None or not _still_valid(
        row.user, row.security_stamp, row.expires_at, now or utcnow()
    ):
        return None
    return row.user


def end_web_session(session: Session, secret: str) -> None:
    """Sign out one browser: its session row is deleted (its cookies open nothing any more)."""
    session.execute(delete(UserSession).where(UserSession.token_hash == hash_token(secret)))


def end_all_sessions(session: Session, user: User) -> None:
    """Sign a user out everywhere: web sessions, API tokens and open realtime connections."""
    user.security_stamp = new_security_stamp()
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    changes.connections_ended(session, user_id=user.id)


def create_device(
    session: Session, site: Site, kind: DeviceKind, name: str, *, token: str | None = None
) -> tuple[Device, str]:
    """Register a device of a site; returns it with its token (shown once)."""
    token = token or new_token(DEVICE_TOKEN_PREFIX)
    device = Device(site=site, kind=kind, name=name.strip(), token_hash=hash_token(token))
    session.add(device)
    session.flush()
    return device, token


def rotate_device_token(session: Session, device: Device, *, token: str | None = None) -> str:
    """Give a device a new token; the old one stops working, and its connections drop, at commit."""
    token = token or new_token(DEVICE_TOKEN_PREFIX)
    device.token_hash = hash_token(token)
    device.revoked_at = None
    return token


# --- who may change whom (the admin pages; the API keeps the same rules) -----------------


def manageable_site_ids(actor: User) -> set[int] | None:
    """Sites whose staff the actor manages; None means every site (an admin)."""
    if actor.role == Role.ADMIN:
        return None
    if actor.role == Role.MANAGER:
        return {site.id for site in actor.sites}
    return set()


def can_change_user(actor: User, user: User) -> bool:
    """Admins change anyone; a manager changes non-admins all of whose sites they manage."""
    allowed = manageable_site_ids(actor)
    if allowed is None:
        return True
    if actor.role != Role.MANAGER or user.role == Role.ADMIN:
        return False
    return bool(user.sites) and all(site.id in allowed for site in user.sites)


def check_staff_assignment(actor: User, role: Role, sites: Sequence[Site]) -> None:
    """Refuse giving a role or sites the actor may not give (Forbidden / InvalidInput)."""
    allowed = manageable_site_ids(actor)
    if allowed is not None:
        if role == Role.ADMIN:
            raise errors.Forbidden(reason="only an admin creates admins")
        if any(site.id not in allowed for site in sites):
            raise errors.Forbidden(reason="a site you do not manage")
    if role != Role.ADMIN and not sites:
        raise errors.InvalidInput(field="sites", reason="managers and agents belong to a site")


def update_user(
    session: Session,
    user: User,
    *,
    actor: User,
    full_name: str | None = None,
    role: Role | None = None,
    sites: Sequence[Site] | None = None,
    locale: str | None = None,
    is_active: bool | None = None,
    password: str | None = None,
) -> User:
    """Change a user within the actor's rights; an actor cannot lock themselves out."""
    if not can_change_user(actor, user):
        raise errors.Forbidden(reason="this user also works at sites you do not manage")
    new_role = role or user.role
    new_sites = list(sites) if sites is not None else list(user.sites)
    check_staff_assignment(actor, new_role, new_sites)
    if user.id == actor.id and (new_role != actor.role or is_active is False):
        raise errors.InvalidInput(field="role", reason="you cannot demote or disable yourself")
    if full_name is not None:
        user.full_name = full_name.strip()[:200]
    user.role = new_role
    if sites is not None:
        user.sites = [] if new_role == Role.ADMIN else new_sites
    if locale is not None:
        user.locale = locale or None
    if is_active is not None:
        user.is_active = is_active
    if password:
        set_password(user, password)
    return user


def revoke_device(session: Session, device: Device, *, now: datetime | None = None) -> None:
    """Revoke a device's token; its open realtime connections drop at commit."""
    if device.revoked_at is None:
        device.revoked_at = now or utcnow()


# --- credentials that change end what was given under them ---------------------------------
#
# Listeners on the attributes rather than calls in each view: whichever code
# changes a password, deactivates a user, or rotates or revokes a device token
# (the API, an admin page, the CLI), what was given before ends with it.


def _persistent(target: Any) -> Session | None:
    session = object_session(target)
    return session if session is not None and target.id is not None else None


def _changed(value: Any, oldvalue: Any) -> bool:
    return value != oldvalue


@event.listens_for(User.password_hash, "set")
@event.listens_for(User.is_active, "set")
def _credentials_changed(target: User, value: Any, oldvalue: Any, initiator: Any) -> None:
    """A new password or a deactivation ends the user's sessions, tokens and sockets."""
    session = _persistent(target)
    if session is not None and _changed(value, oldvalue):
        target.security_stamp = new_security_stamp()
        changes.connections_ended(session, user_id=target.id)


@event.listens_for(Device.token_hash, "set")
def _device_token_changed(target: Device, value: Any, oldvalue: Any, initiator: Any) -> None:
    session = _persistent(target)
    if session is not None and _changed(value, oldvalue):
        changes.connections_ended(session, device_id=target.id)


@event.listens_for(Device.revoked_at, "set")
def _device_revoked(target: Device, value: Any, oldvalue: Any, initiator: Any) -> None:
    session = _persistent(target)
    if session is not None and value is not None and _changed(value, oldvalue):
        changes.connections_ended(session, device_id=target.id)
