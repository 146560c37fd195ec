"""The audit log: every change of an office's configuration, with who and when.

Changes are caught at the ORM level, so the admin pages, the REST API and the
command line are all recorded without each view remembering to: during a
transaction the first state of every configuration object it touches is kept;
when it commits, what differs from the final state is written to
``audit_log`` in the same transaction (a rolled-back change leaves no entry).
Operational columns (a counter's agent and state, a service's learned average
duration, last sign-in) are not configuration and are not recorded; passwords
and tokens are recorded as "changed", never their value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, attributes

from ..models import (
    AuditEntry,
    Commitment,
    Complaint,
    Counter,
    CounterService,
    Device,
    Service,
    Site,
    SiteClosure,
    SmsGatewaySettings,
    User,
    VoiceClip,
)

log = logging.getLogger(__name__)

TOUCHED_KEY = "queue_app.audit_touched"
ACTOR_KEY = "queue_app.audit_actor"
CHANGED = "changed"  # what a secret's change is recorded as

Snapshot = dict[str, Any]


@dataclass(frozen=True)
class Spec:
    """What is recorded of one configuration class."""

    object_type: str
    fields: tuple[str, ...]
    # Values computed from relationships: (object, committed) -> JSON-able value.
    derived: dict[str, Callable[[Any, bool], Any]] = field(default_factory=dict)
    # Columns recorded as "changed" only (hashes of passwords and tokens).
    secrets: tuple[str, ...] = ()
    # Relationship keys whose changes make the object "touched".
    collections: tuple[str, ...] = ()
    # Other columns behind the derived values.
    watch: tuple[str, ...] = ()
    record_create: bool = True


def committed(obj: Any, key: str) -> Any:
    """The value of an attribute as it was loaded from the database (before this transaction)."""
    state = inspect(obj)
    if state.transient or state.pending:
        return None
    history = attributes.get_history(obj, key)
    if history.deleted:
        is_collection = state.mapper.relationships.get(key) is not None and (
            state.mapper.relationships[key].uselist
        )
        if is_collection:
            return list(history.unchanged) + list(history.deleted)
        return history.deleted[0]
    if history.unchanged:
        relationship = state.mapper.relationships.get(key)
        if relationship is not None and relationship.uselist:
            return list(history.unchanged)
        return history.unchanged[0]
    if history.added:
        relationship = state.mapper.relationships.get(key)
        return [] if relationship is not None and relationship.uselist else None
    return getattr(obj, key)


def _read(obj: Any, key: str, is_committed: bool) -> Any:
    return committed(obj, key) if is_committed else getattr(obj, key)


def _closures(site: Site, is_committed: bool) -> list[str]:
    return sorted(c.day.isoformat() for c in _read(site, "closures", is_committed) or [])


def _counter_services(counter: Counter, is_committed: bool) -> list[str]:
    links = _read(counter, "service_links", is_committed) or []
    ordered = sorted(
        links, key=lambda link: (_read(link, "position", is_committed) or 0, link.service_id or 0)
    )
    return [f"{link.service.code}×{_read(link, 'weight', is_committed)}" for link in ordered]


def _user_sites(user: User, is_committed: bool) -> list[str]:
    return sorted(site.slug for site in _read(user, "sites", is_committed) or [])


def _device_revoked(device: Device, is_committed: bool) -> bool:
    return _read(device, "revoked_at", is_committed) is not None


def _device_services(device: Device, is_committed: bool) -> list[str]:
    return sorted(service.code for service in _read(device, "services", is_committed) or [])


def _device_print_agent(device: Device, is_committed: bool) -> str | None:
    agent_id = _read(device, "print_agent_id", is_committed)
    if agent_id is None:
        return None
    session = inspect(device).session
    agent = session.get(Device, agent_id) if session is not None else None
    return agent.name if agent is not None else str(agent_id)


def _complaint_assignee(complaint: Complaint, is_committed: bool) -> str | None:
    user_id = _read(complaint, "assigned_to_id", is_committed)
    if user_id is None:
        return None
    session = inspect(complaint).session
    user = session.get(User, user_id) if session is not None else None
    return user.email if user is not None else str(user_id)


def _complaint_answered(complaint: Complaint, is_committed: bool) -> bool:
    return bool(_read(complaint, "answer", is_committed))


def _commitment_service(commitment: Commitment, is_committed: bool) -> str | None:
    service_id = _read(commitment, "service_id", is_committed)
    if service_id is None:
        return None
    session = inspect(commitment).session
    service = session.get(Service, service_id) if session is not None else None
    return service.code if service is not None else str(service_id)


# Services get every column but the learned average and bookkeeping (the booking
# settings and the kiosk pictogram included).
_SERVICE_SKIP = {"id", "site_id", "created_at", "avg_service_seconds"}

SPECS: dict[type, Spec] = {
    Site: Spec(
        "site",
        ("name", "timezone", "languages", "hours", "display_message", "sms_keyword"),
        derived={"closures": _closures},
        collections=("closures",),
    ),
    Service: Spec(
        "service",
        tuple(c.key for c in Service.__mapper__.column_attrs if c.key not in _SERVICE_SKIP),
    ),
    Counter: Spec(
        "counter",
        ("name", "position"),
        derived={"services": _counter_services},
        collections=("service_links",),
    ),
    Device: Spec(
        "device",
        ("kind", "name", "printer", "printer_options"),
        derived={
            "revoked": _device_revoked,
            "services_shown": _device_services,
            "print_agent": _device_print_agent,
        },
        secrets=("token_hash",),
        collections=("services",),
        watch=("revoked_at", "print_agent_id"),
    ),
    User: Spec(
        "user",
        ("email", "full_name", "role", "locale", "is_active"),
        derived={"sites": _user_sites},
        secrets=("password_hash",),
        collections=("sites",),
    ),
    Commitment: Spec(
        "commitment",
        ("kind", "threshold", "target_pct", "position"),
        derived={"service": _commitment_service},
        watch=("service_id",),
    ),
    # A site's own SMS gateway: its credentials are recorded as "changed" only.
    SmsGatewaySettings: Spec(
        "sms_gateway",
        ("gateway", "options"),
        secrets=("secrets",),
    ),
    # An office's recordings: which one, and a digest of its sound (not the sound).
    VoiceClip: Spec("voice_clip", ("language", "key", "content_type", "size", "sha256")),
    Complaint: Spec(
        "complaint",
        ("status", "answer_by_sms"),
        derived={"assigned_to": _complaint_assignee, "answered": _complaint_answered},
        watch=("assigned_to_id", "answer"),
        # Citizens file complaints; the register itself records them.
        record_create=False,
    ),
}
# Children whose changes are changes of their parent.
PARENTS: dict[type, Callable[[Any], Any]] = {
    CounterService: lambda link: link.counter,
    SiteClosure: lambda closure: closure.site,
}
SECRET_NAMES = {"password_hash": "password", "token_hash": "token", "secrets": "secrets"}


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def snapshot(obj: Any, *, is_committed: bool) -> Snapshot:
    """The recorded fields of a configuration object, now or as loaded."""
    spec = SPECS[type(obj)]
    data: Snapshot = {key: _plain(_read(obj, key, is_committed)) for key in spec.fields}
    for key, compute in spec.derived.items():
        data[key] = _plain(compute(obj, is_committed))
    for key in spec.secrets:
        # Kept in memory to compare; written as "changed" only.
        data[key] = _read(obj, key, is_committed)
    return data


def _has_changes(obj: Any, spec: Spec) -> bool:
    state = inspect(obj)
    keys = (*spec.fields, *spec.secrets, *spec.collections, *spec.watch)
    return any(state.attrs[key].history.has_changes() for key in keys if key in state.attrs)


def _touch(touched: dict[Any, Snapshot | None], obj: Any, *, created: bool = False) -> None:
    if obj is None or obj in touched:
        return
    touched[obj] = None if created else snapshot(obj, is_committed=True)


def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    touched: dict[Any, Snapshot | None] | None = None
    with session.no_autoflush:
        for obj in session.new:
            kind = type(obj)
            if kind in SPECS and SPECS[kind].record_create:
                touched = session.info.setdefault(TOUCHED_KEY, {})
                _touch(touched, obj, created=True)
            elif kind in PARENTS:
                parent = PARENTS[kind](obj)
                if parent is not None and not inspect(parent).pending:
                    touched = session.info.setdefault(TOUCHED_KEY, {})
                    _touch(touched, parent)
        for obj in list(session.dirty) + list(session.deleted):
            kind = type(obj)
            if kind in SPECS:
                if obj in session.deleted or _has_changes(obj, SPECS[kind]):
                    touched = session.info.setdefault(TOUCHED_KEY, {})
                    _touch(touched, obj)
            elif kind in PARENTS:
                parent = PARENTS[kind](obj)
                if parent is not None and not inspect(parent).pending:
                    touched = session.info.setdefault(TOUCHED_KEY, {})
                    _touch(touched, parent)


def _diff(spec: Spec, before: Snapshot | None, after: Snapshot | None) -> dict[str, Any]:
    keys = list(spec.fields) + list(spec.derived) + list(spec.secrets)
    changes: dict[str, Any] = {}
    for key in keys:
        old = before.get(key) if before is not None else None
        new = after.get(key) if after is not None else None
        if old == new:
            continue
        if key in spec.secrets:
            if before is not None and after is not None:
                changes[SECRET_NAMES.get(key, key)] = CHANGED
            continue
        changes[key] = [old, new]
    return changes


def _site_id(obj: Any) -> int | None:
    if isinstance(obj, Site):
        return obj.id
    if isinstance(obj, User):
        ids = sorted(site.id for site in obj.sites)
        return ids[0] if ids else None
    return getattr(obj, "site_id", None)


def _label(obj: Any) -> str:
    if isinstance(obj, Site):
        return obj.name
    if isinstance(obj, Service):
        return obj.code
    if isinstance(obj, Counter):
        return obj.name
    if isinstance(obj, Device):
        return f"{obj.kind.value} · {obj.name}"
    if isinstance(obj, User):
        return obj.email
    if isinstance(obj, Complaint):
        return obj.reference
    if isinstance(obj, Commitment):
        return obj.kind.value
    if isinstance(obj, SmsGatewaySettings):
        return obj.gateway
    if isinstance(obj, VoiceClip):
        return f"{obj.language}/{obj.key}"
    return ""


def set_actor(session: Session, actor: User | Device | str | None) -> None:
    """Name who makes the changes of this session when no request says (CLI, jobs)."""
    session.info[ACTOR_KEY] = actor


def _current_actor(session: Session) -> tuple[int | None, str]:
    actor: Any = session.info.get(ACTOR_KEY)
    if actor is None:
        actor = _request_actor()
    if isinstance(actor, User):
        return actor.id, actor.email
    if isinstance(actor, Device):
        return None, f"device:{actor.name}"
    if isinstance(actor, str):
        return None, actor
    return None, "system"


def _request_actor() -> Any:
    from flask import g, has_request_context

    if not has_request_context():
        return None
    principal = g.get("principal")
    if principal is not None:
        return principal
    from flask_login import current_user

    if getattr(current_user, "is_authenticated", False):
        return current_user._get_current_object()
    return "public"


def _before_commit(session: Session) -> None:
    if session.new or session.deleted or session.dirty:
        # The commit flushes the last changes after this hook: flush them now so
        # their first state is recorded (the commit's own flush then has less to do).
        session.flush()
    if not session.info.get(TOUCHED_KEY):
        return
    touched: dict[Any, Snapshot | None] = session.info.pop(TOUCHED_KEY, {})
    user_id, actor = _current_actor(session)
    for obj, before in touched.items():
        spec = SPECS[type(obj)]
        state = inspect(obj)
        gone = state.deleted or state.was_deleted
        after = None if gone else snapshot(obj, is_committed=False)
        if before is None and after is None:
            continue
        changes = _diff(spec, before, after)
        if not changes and before is not None and after is not None:
            continue
        action = "create" if before is None else "delete" if after is None else "update"
        identity = state.identity
        session.add(
            AuditEntry(
                site_id=_site_id(obj),
                user_id=user_id,
                actor=actor[:254],
                action=action,
                object_type=spec.object_type,
                object_id=str(identity[0]) if identity else None,
                object_label=_label(obj)[:200],
                changes=changes,
            )
        )


def record(
    session: Session,
    *,
    object_type: str,
    object_id: str | None,
    label: str,
    site_id: int | None,
    changes: dict[str, Any],
    action: str = "update",
) -> None:
    """Write an audit entry for a change the ORM hooks do not see (a learned value set by hand)."""
    user_id, actor = _current_actor(session)
    session.add(
        AuditEntry(
            site_id=site_id,
            user_id=user_id,
            actor=actor[:254],
            action=action,
            object_type=object_type,
            object_id=object_id,
            object_label=label[:200],
            changes=_plain(changes),
        )
    )


def _forget(session: Session, *args: Any) -> None:
    session.info.pop(TOUCHED_KEY, None)


def install(session_target: Any) -> None:
    """Hook the audit onto a session factory (once)."""
    if not event.contains(session_target, "before_flush", _before_flush):
        event.listen(session_target, "before_flush", _before_flush)
        event.listen(session_target, "before_commit", _before_commit)
        event.listen(session_target, "after_rollback", _forget)
