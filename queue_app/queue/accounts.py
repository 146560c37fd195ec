"""Users, passwords and tokens (users' API tokens and devices' tokens)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from ..database import read_transaction
from ..models import ApiToken, Device, DeviceKind, Role, Site, User, utcnow
from . import errors

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
    """Replace a user's password."""
    validate_password(password)
    user.password_hash = generate_password_hash(password)


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, else None.

    The user is read and the (deliberately slow) hash checked in a reading
    transaction of its own, ended before returning: on SQLite a sign-in holds
    no write lock while it hashes; recording the sign-in is the caller's write.
    """
    with read_transaction(session):
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
    """Give a user a bearer token valid for ``ttl``; prunes the user's expired ones."""
    now = now or utcnow()
    session.execute(delete(ApiToken).where(ApiToken.user_id == user.id, ApiToken.expires_at < now))
    token = new_token(USER_TOKEN_PREFIX)
    row = ApiToken(
        user_id=user.id, token_hash=hash_token(token), created_at=now, expires_at=now + ttl
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
        if row is None or row.expires_at <= now or not row.user.is_active:
            return None
        return row.user
    if token.startswith(DEVICE_TOKEN_PREFIX):
        device = session.scalar(select(Device).where(Device.token_hash == hash_token(token)))
        if device is None or device.revoked_at is not None:
            return None
        return device
    return None


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
    """Give a device a new token; the old one stops working at commit."""
    token = token or new_token(DEVICE_TOKEN_PREFIX)
    device.token_hash = hash_token(token)
    device.revoked_at = None
    return token
