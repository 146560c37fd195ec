"""The example office of `queue-app demo` (queue_app/demo/office.json), loaded idempotently."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from ..models import Counter, Device, DeviceKind, Role, Site, User
from ..printing.devices import configure_printer
from ..queue.accounts import (
    DEVICE_TOKEN_PREFIX,
    create_device,
    create_user,
    hash_token,
    set_password,
)
from ..queue.booking import update_booking_settings
from ..queue.sites import (
    clear_hours,
    create_counter,
    create_service,
    create_site,
    get_service,
    set_counter_services,
    set_hours,
    update_service,
    update_site,
)

DEMO_FILE = Path(__file__).with_name("office.json")


@dataclass
class LoadedOffice:
    site: Site
    tokens: dict[str, tuple[Device, str]] = field(default_factory=dict)
    users: list[tuple[User, str]] = field(default_factory=list)


def demo_token(secret_key: str, site_slug: str, device_name: str) -> str:
    """A device token derived from the secret key, so re-running the demo prints the same one."""
    digest = hmac.new(
        secret_key.encode(), f"demo-device:{site_slug}:{device_name}".encode(), hashlib.sha256
    ).hexdigest()
    return DEVICE_TOKEN_PREFIX + digest[:43]


def read_spec(path: Path = DEMO_FILE) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def load_office(
    session: Session, spec: dict[str, Any], secret_key: str, *, instance_path: str = "."
) -> LoadedOffice:
    """Create or bring up to date the office described by ``spec``; flushes, does not commit."""
    site = session.scalar(select(Site).where(Site.slug == spec["slug"]))
    if site is None:
        site = create_site(
            session, spec["slug"], spec["name"], spec["timezone"], languages=spec.get("languages")
        )
    else:
        update_site(
            session, site, {k: spec[k] for k in ("name", "timezone", "languages") if k in spec}
        )
    if spec.get("hours") is None:
        # No hours: the demo takes tickets at any hour (a tester may try it at night).
        clear_hours(session, site)
    else:
        set_hours(session, site, spec["hours"])

    for item in spec["services"]:
        fields = {
            "names": item["names"],
            "prefix": item["prefix"],
            "target_wait_minutes": item.get("target_wait_minutes", 20),
            "avg_service_minutes": item.get("avg_service_minutes", 5),
            "icon": item.get("icon"),
        }
        existing = next((s for s in site.services if s.code == item["code"]), None)
        if existing is None:
            existing = create_service(session, site, item["code"], **fields)
        else:
            update_service(session, existing, {**fields, "is_active": True})
        if "booking" in item:
            update_booking_settings(existing, item["booking"])

    for item in spec["counters"]:
        links = [
            (get_service(session, site, code), item.get("weights", {}).get(code, 1))
            for code in item["services"]
        ]
        counter = session.scalar(
            select(Counter).where(Counter.site_id == site.id, Counter.name == item["name"])
        )
        if counter is None:
            create_counter(session, site, item["name"], links)
        else:
            set_counter_services(session, counter, links)

    loaded = LoadedOffice(site=site)
    for item in spec["devices"]:
        token = demo_token(secret_key, site.slug, item["name"])
        device = session.scalar(
            select(Device).where(Device.site_id == site.id, Device.name == item["name"])
        )
        if device is None:
            device, _ = create_device(
                session, site, DeviceKind(item["kind"]), item["name"], token=token
            )
        else:
            device.token_hash = hash_token(token)
            device.revoked_at = None
        if "printer" in item:
            # The demo kiosk prints into a file of the instance folder: look at the bytes.
            printer = str(item["printer"]).replace("{instance}", str(Path(instance_path).resolve()))
            configure_printer(
                session,
                device,
                {"printer": printer, "printer_options": item.get("printer_options") or {}},
            )
        loaded.tokens[item["name"]] = (device, token)

    if "commitments" in spec:
        _load_commitments(session, site, spec["commitments"])

    for item in spec["users"]:
        user = session.scalar(select(User).where(User.email == item["email"]))
        role = Role(item["role"])
        if user is None:
            user = create_user(
                session,
                item["email"],
                item["password"],
                role,
                sites=[] if role == Role.ADMIN else [site],
                full_name=item.get("full_name", ""),
            )
        else:
            if not check_password_hash(user.password_hash, item["password"]):
                set_password(user, item["password"])
            user.is_active = True
            if role != Role.ADMIN and site not in user.sites:
                user.sites.append(site)
        loaded.users.append((user, item["password"]))
    session.flush()
    return loaded


def _load_commitments(session: Session, site: Site, items: list[dict[str, Any]]) -> None:
    """Publish the demo office's commitments, unless they already are (no audit noise)."""
    from ..quality.commitments import commitments_of, set_commitments

    codes = {service.id: service.code for service in site.services}
    current = [
        (c.kind.value, c.threshold, c.target_pct, codes.get(c.service_id) if c.service_id else None)
        for c in commitments_of(session, site)
    ]
    wanted = [(i["kind"], i["threshold"], i["target_pct"], i.get("service")) for i in items]
    if current != wanted:
        set_commitments(session, site, items)
