"""Configuring an office: sites, hours, closures, services, counters."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..models import (
    WEEKDAYS,
    Counter,
    CounterService,
    PriorityRule,
    Service,
    Site,
    SiteClosure,
)
from . import errors, ports
from .days import is_valid_timezone, parse_hhmm
from .keywords import KEYWORD_LENGTH, keyword_of, plain_word

T = TypeVar("T")

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
PREFIX_RE = re.compile(r"^[A-Z]{1,3}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")


def get_site(session: Session, slug: str) -> Site:
    """The site with this slug, else NotFound."""
    site = session.scalar(select(Site).where(Site.slug == slug))
    if site is None:
        raise errors.NotFound(site=slug)
    return site


def get_service(session: Session, site: Site, code: str) -> Service:
    """The site's service with this code, else NotFound."""
    service = session.scalar(
        select(Service).where(Service.site_id == site.id, Service.code == code)
    )
    if service is None:
        raise errors.NotFound(service=code)
    return service


_SITE_AND_SERVICE = (
    select(Site, Service)
    .join(Service, Service.site_id == Site.id)
    .where(Site.slug == bindparam("slug"), Service.code == bindparam("code"))
)


def get_site_and_service(session: Session, slug: str, code: str) -> tuple[Site, Service]:
    """The site and its service as the session's objects; NotFound names the missing one.

    Read through the per-process cache of set-up rows (hotcache.py): one query
    (and the site's closures) when not cached, none otherwise.
    """
    from ..infra.snapshots import attach

    site, service = site_and_service(session, slug, code)
    return attach(session, site), attach(session, service)


def site_and_service(session: Session, slug: str, code: str) -> tuple[Site, Service]:
    """:func:`get_site_and_service`'s pair as the cache holds it (detached, shared).

    For a ticket's issue, which only reads their columns and the site's
    closures; never change them. NotFound names the missing one.
    """
    found = cached_site_and_service(session, slug, code)
    if found is None:
        get_site(session, slug)
        raise errors.NotFound(service=code)
    return found


def cached_site_and_service(session: Session, slug: str, code: str) -> tuple[Site, Service] | None:
    """:func:`get_site_and_service`'s pair as the cache holds it (detached, shared), or None.

    For hot paths that only read their columns and the site's closures; never change them.
    """
    from ..infra.snapshots import snapshot

    def load() -> tuple[Site, Service] | None:
        row = session.execute(_SITE_AND_SERVICE, {"slug": slug, "code": code}).first()
        if row is None:
            return None
        return snapshot(row[0]), snapshot(row[1])

    return ports.cached(("site_service", slug, code), load)


def cached_service(session: Session, service_id: int) -> Service:
    """The service with this id: the session's own, else through the per-process cache.

    Merged into the session, so that ``ticket.service`` then costs no statement.
    """
    from sqlalchemy.orm.util import identity_key

    from ..infra.snapshots import attach

    found = session.identity_map.get(identity_key(Service, service_id))
    if found is not None:
        return found
    return attach(session, service_snapshot(session, service_id))


def service_snapshot(session: Session, service_id: int) -> Service:
    """The service with this id as the per-process cache holds it (detached, shared).

    For hot paths that only read its columns; never change it.
    """
    return _snapshot(session, Service, service_id, "service")


def cached_site(session: Session, site_id: int) -> Site:
    """The site with this id, through the per-process cache (hotcache.py)."""
    from ..infra.snapshots import attach

    return attach(session, site_snapshot(session, site_id))


def site_snapshot(session: Session, site_id: int) -> Site:
    """The site with this id as the per-process cache holds it (detached, shared).

    For hot paths that only read its columns and closures; never change it.
    """
    return _snapshot(session, Site, site_id, "site")


def _snapshot(session: Session, model: type[T], row_id: int, name: str) -> T:
    from ..infra.snapshots import snapshot

    def load() -> T | None:
        row = session.get(model, row_id)
        return snapshot(row) if row is not None else None

    found = ports.cached((name, row_id), load)
    if found is None:
        raise errors.NotFound(**{name: row_id})
    return found


def get_counter(session: Session, counter_id: int) -> Counter:
    """The counter with this id, else NotFound."""
    counter = session.get(Counter, counter_id)
    if counter is None:
        raise errors.NotFound(counter=counter_id)
    return counter


def create_site(
    session: Session,
    slug: str,
    name: str,
    timezone: str,
    *,
    languages: Sequence[str] | None = None,
) -> Site:
    """Create an office; Conflict when the slug is taken."""
    if not SLUG_RE.match(slug or ""):
        raise errors.InvalidInput(field="slug", expected="lowercase letters, digits and -")
    if session.scalar(select(Site.id).where(Site.slug == slug)) is not None:
        raise errors.Conflict(field="slug", slug=slug)
    # No opening hours configured: always open until a manager sets them.
    site = Site(slug=slug, name=_clean_name(name), hours=None)
    _set_timezone(site, timezone)
    _set_languages(site, languages or ["fr", "en"])
    session.add(site)
    session.flush()
    return site


def update_site(session: Session, site: Site, changes: Mapping[str, Any]) -> Site:
    """Change a site's name, time zone, languages, SMS keyword or alert phone (E.164)."""
    if "name" in changes:
        site.name = _clean_name(changes["name"])
    if "timezone" in changes:
        _set_timezone(site, changes["timezone"])
    if "languages" in changes:
        _set_languages(site, changes["languages"])
    if "sms_keyword" in changes:
        _set_sms_keyword(session, site, changes["sms_keyword"])
    if "alert_phone" in changes:
        # E.164 already (the edges read it in the installation's region); None: no SMS.
        site.alert_phone = changes["alert_phone"] or None
    return site


def _set_sms_keyword(session: Session, site: Site, value: Any) -> None:
    """The word that names the office in an SMS to a shared number; empty: from the slug."""
    keyword = plain_word(str(value or ""))
    if value and not keyword:
        raise errors.InvalidInput(field="sms_keyword", expected="letters and digits")
    if len(keyword) > KEYWORD_LENGTH:
        raise errors.InvalidInput(field="sms_keyword", max=KEYWORD_LENGTH)
    if keyword:
        others = session.scalars(select(Site).where(Site.id != (site.id or -1))).all()
        if any(keyword_of(other) == keyword for other in others):
            raise errors.Conflict(field="sms_keyword", sms_keyword=keyword)
    site.sms_keyword = keyword or None


def set_hours(session: Session, site: Site, hours: Mapping[str, Any]) -> Site:
    """Replace the weekly opening hours: {"monday": [["08:00", "12:30"], ...], ...}.

    A missing or empty day is closed: ``{}`` closes the site every day (unlike
    ``clear_hours``, which leaves it always open).
    """
    clean: dict[str, list[list[str]]] = {}
    for day, intervals in hours.items():
        if day not in WEEKDAYS:
            raise errors.InvalidInput(field=day, expected=list(WEEKDAYS))
        parsed = []
        for interval in intervals or []:
            if not isinstance(interval, list | tuple) or len(interval) != 2:
                raise errors.InvalidInput(field=day, expected='[["08:00", "12:30"], ...]')
            try:
                start, end = parse_hhmm(str(interval[0])), parse_hhmm(str(interval[1]))
            except ValueError as exc:
                raise errors.InvalidInput(field=day, reason="not_hh_mm", expected="HH:MM") from exc
            if start >= end:
                raise errors.InvalidInput(field=day, reason="ends_before_it_starts")
            parsed.append((start, end))
        parsed.sort()
        for (_, previous_end), (next_start, _) in zip(parsed, parsed[1:], strict=False):
            if next_start < previous_end:
                raise errors.InvalidInput(field=day, reason="intervals_overlap")
        if parsed:
            clean[day] = [[s.strftime("%H:%M"), e.strftime("%H:%M")] for s, e in parsed]
    site.hours = clean
    return site


def clear_hours(session: Session, site: Site) -> Site:
    """Remove the opening hours: the site is always open (its days end at local midnight)."""
    site.hours = None
    return site


def set_closures(session: Session, site: Site, days: Sequence[date]) -> Site:
    """Replace the list of closure days (holidays)."""
    site.closures.clear()
    session.flush()
    for day in sorted(set(days)):
        site.closures.append(SiteClosure(day=day))
    session.flush()
    return site


def create_service(
    session: Session,
    site: Site,
    code: str,
    *,
    names: Mapping[str, str],
    prefix: str,
    target_wait_minutes: int = 20,
    avg_service_minutes: float = 5,
    icon: str | None = None,
) -> Service:
    """Add a service to a site; Conflict when its code or prefix is taken."""
    if not CODE_RE.match(code or ""):
        raise errors.InvalidInput(field="code", expected="letters, digits, _ and -")
    if (
        session.scalar(select(Service.id).where(Service.site_id == site.id, Service.code == code))
        is not None
    ):
        raise errors.Conflict(field="code", code=code)
    # No autoflush: the half-built service must not reach the database early.
    with session.no_autoflush:
        service = Service(
            site=site, code=code, names={}, is_active=True, position=len(site.services)
        )
        _apply_service_changes(
            session,
            service,
            {
                "names": names,
                "prefix": prefix,
                "target_wait_minutes": target_wait_minutes,
                "avg_service_minutes": avg_service_minutes,
                "icon": icon,
            },
        )
    session.add(service)
    session.flush()
    return service


def update_service(session: Session, service: Service, changes: Mapping[str, Any]) -> Service:
    """Change a service's names, prefix, target, average duration or availability."""
    with session.no_autoflush:
        _apply_service_changes(session, service, changes)
    session.flush()
    return service


def _apply_service_changes(session: Session, service: Service, changes: Mapping[str, Any]) -> None:
    if "names" in changes:
        names = {k: str(v).strip() for k, v in dict(changes["names"]).items() if str(v).strip()}
        if not names or not all(LANGUAGE_RE.match(k) for k in names):
            raise errors.InvalidInput(field="names", expected='{"fr": "...", "en": "..."}')
        service.names = names
    if "prefix" in changes:
        prefix = str(changes["prefix"] or "").strip().upper()
        if not PREFIX_RE.match(prefix):
            raise errors.InvalidInput(field="prefix", expected="1 to 3 letters A-Z")
        taken = session.scalar(
            select(Service.id).where(
                Service.site_id == service.site.id,
                Service.prefix == prefix,
                Service.id != (service.id or -1),
            )
        )
        if taken is not None:
            raise errors.Conflict(field="prefix", prefix=prefix)
        service.prefix = prefix
    if "target_wait_minutes" in changes:
        service.target_wait_minutes = _bounded_int(
            changes["target_wait_minutes"], 1, 24 * 60, "target_wait_minutes"
        )
    if "avg_service_minutes" in changes:
        minutes = float(changes["avg_service_minutes"])
        if not 0.25 <= minutes <= 240:
            raise errors.InvalidInput(field="avg_service_minutes", min=0.25, max=240)
        service.avg_service_seconds = int(round(minutes * 60))
    if "is_active" in changes:
        service.is_active = bool(changes["is_active"])
    if "sms_name" in changes:
        sms_name = " ".join(str(changes["sms_name"] or "").split())
        if len(sms_name) > 30:
            raise errors.InvalidInput(field="sms_name", max=30)
        service.sms_name = sms_name or None
    if "position" in changes:
        service.position = _bounded_int(changes["position"], 0, 10_000, "position")
    if "icon" in changes:
        icon = changes["icon"] or None
        icons = ports.available_icons()
        if icon is not None and icons is not None and icon not in icons:
            raise errors.InvalidInput(field="icon", expected=list(icons))
        service.icon = icon
    if "priority_rule" in changes:
        try:
            service.priority_rule = PriorityRule(changes["priority_rule"])
        except ValueError as exc:
            expected = [rule.value for rule in PriorityRule]
            raise errors.InvalidInput(field="priority_rule", expected=expected) from exc


def create_counter(
    session: Session,
    site: Site,
    name: str,
    services: Sequence[tuple[Service, int]],
) -> Counter:
    """Add a counter serving ``services`` (each with its weight); Conflict on a taken name."""
    name = _clean_name(name, max_length=64)
    if (
        session.scalar(select(Counter.id).where(Counter.site_id == site.id, Counter.name == name))
        is not None
    ):
        raise errors.Conflict(field="name", name=name)
    counter = Counter(site=site, name=name, position=len(site.counters))
    session.add(counter)
    set_counter_services(session, counter, services)
    session.flush()
    return counter


def set_counter_services(
    session: Session, counter: Counter, services: Sequence[tuple[Service, int]]
) -> Counter:
    """Replace the services a counter serves, in order, with their weights."""
    seen: set[int] = set()
    links = []
    for position, (service, weight) in enumerate(services):
        if service.site_id != counter.site.id:
            raise errors.NotFound(service=service.code)
        if service.id in seen:
            continue
        seen.add(service.id)
        links.append(
            CounterService(
                service=service, weight=_bounded_int(weight, 1, 100, "weight"), position=position
            )
        )
    counter.service_links.clear()
    session.flush()
    counter.service_links.extend(links)
    return counter


def rename_counter(session: Session, counter: Counter, name: str) -> Counter:
    """Rename a counter (the name is what displays announce)."""
    name = _clean_name(name, max_length=64)
    clash = session.scalar(
        select(Counter.id).where(
            Counter.site_id == counter.site_id, Counter.name == name, Counter.id != counter.id
        )
    )
    if clash is not None:
        raise errors.Conflict(field="name", name=name)
    counter.name = name
    return counter


def _clean_name(name: Any, max_length: int = 200) -> str:
    text = str(name or "").strip()
    if not text or len(text) > max_length:
        raise errors.InvalidInput(field="name", max_length=max_length)
    return text


def _set_timezone(site: Site, timezone: str) -> None:
    if not timezone or not is_valid_timezone(timezone):
        raise errors.InvalidInput(
            field="timezone", expected="an IANA time zone such as Africa/Dakar"
        )
    site.timezone = timezone


def _set_languages(site: Site, languages: Sequence[str]) -> None:
    clean = [str(code).strip().lower() for code in languages]
    if not clean or not all(LANGUAGE_RE.match(code) for code in clean):
        raise errors.InvalidInput(field="languages", expected='["fr", "en"]')
    site.languages = list(dict.fromkeys(clean))


def _bounded_int(value: Any, low: int, high: int, field: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise errors.InvalidInput(field=field) from exc
    if isinstance(value, bool) or not low <= number <= high:
        raise errors.InvalidInput(field=field, min=low, max=high)
    return number
