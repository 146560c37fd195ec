"""Sites and their configuration: services, counters, devices, hours, closures, board."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from marshmallow import ValidationError, fields, validate
from sqlalchemy import select
from webargs.flaskparser import abort

from ..extensions import db
from ..models import Counter, Device, DeviceKind, Role, Site
from ..printing.devices import configure_printer
from ..queue import errors
from ..queue.accounts import create_device, revoke_device, rotate_device_token
from ..queue.booking import update_booking_settings
from ..queue.calling import current_ticket
from ..queue.phones import normalize_phone
from ..queue.sites import (
    clear_hours,
    create_counter,
    create_service,
    create_site,
    get_service,
    get_site,
    rename_counter,
    set_closures,
    set_counter_services,
    set_hours,
    update_service,
    update_site,
)
from ..screens import display_board, server_version
from ..security.permissions import (
    require_board_reader,
    require_site_manager,
    require_site_reader,
    require_site_staff,
    require_user,
    visible_sites_filter,
)
from . import ApiBlueprint, principal
from .inputs import Date, json_body
from .schemas import (
    BoardSchema,
    CounterCreateSchema,
    CounterPatchSchema,
    CounterSchema,
    DeviceCreateSchema,
    DeviceSchema,
    HoursSchema,
    ServiceCreateSchema,
    ServicePatchSchema,
    ServiceSchema,
    SiteCreateSchema,
    SitePatchSchema,
    SiteSchema,
)
from .serialize import counter_json, device_json, service_json, site_json

blp = ApiBlueprint("api_sites", __name__, description="Offices and their configuration")

MAX_CLOSURES = 1000
CLOSURES = fields.List(Date(), required=True, validate=validate.Length(max=MAX_CLOSURES))


@blp.route("/sites")
class SitesView(MethodView):
    @blp.response(200, SiteSchema(many=True))
    def get(self) -> list[dict]:
        """List the sites the user works for (all of them for an admin)."""
        user = require_user(principal())
        allowed = visible_sites_filter(user)
        stmt = select(Site).order_by(Site.slug)
        if allowed is not None:
            stmt = stmt.where(Site.id.in_(allowed))
        return [site_json(site, detail=False) for site in db.session.scalars(stmt)]

    @blp.arguments(SiteCreateSchema)
    @blp.response(201, SiteSchema)
    @blp.alt_response(409, description="The slug is taken")
    def post(self, body: dict) -> dict:
        """Create a site (admins)."""
        require_user(principal(), Role.ADMIN)
        site = create_site(
            db.session,
            body["slug"],
            body["name"],
            body["timezone"],
            languages=body.get("languages"),
        )
        db.session.commit()
        return site_json(site)


@blp.route("/sites/<slug>")
class SiteView(MethodView):
    @blp.response(200, SiteSchema)
    def get(self, slug: str) -> dict:
        """A site with its services and counters (staff of the site).

        Not for a kiosk: it lists its services (GET .../services), not who sits where.
        """
        site = get_site(db.session, slug)
        require_site_staff(principal(), site)
        return site_json(site)

    @blp.arguments(SitePatchSchema)
    @blp.response(200, SiteSchema)
    @blp.alt_response(409, description="Another office already has this SMS keyword")
    def patch(self, body: dict, slug: str) -> dict:
        """Change a site's name, time zone, languages, SMS keyword or alert phone."""
        site = get_site(db.session, slug)
        require_site_manager(principal(), site)
        if body.get("alert_phone"):
            region = current_app.config["DEFAULT_PHONE_REGION"]
            body["alert_phone"] = normalize_phone(body["alert_phone"], region)
        update_site(db.session, site, body)
        db.session.commit()
        return site_json(site)


@blp.route("/sites/<slug>/hours")
class HoursView(MethodView):
    @blp.arguments(HoursSchema, example={"monday": [["08:00", "12:30"], ["14:00", "17:00"]]})
    @blp.response(200, SiteSchema)
    def put(self, body: dict, slug: str) -> dict:
        """Replace the weekly opening hours (site-local times).

        A missing or empty day is closed: {} closes the site every day. Kiosks
        take tickets until the day's last closing time; staff still may.
        """
        site = get_site(db.session, slug)
        require_site_manager(principal(), site)
        set_hours(db.session, site, body)
        db.session.commit()
        return site_json(site)

    @blp.response(200, SiteSchema)
    def delete(self, slug: str) -> dict:
        """Remove the opening hours: the site is always open (hours becomes null).

        A site starts so, like the demo office; its days end at local midnight
        (closure days apply to the weekly hours only).
        """
        site = get_site(db.session, slug)
        require_site_manager(principal(), site)
        clear_hours(db.session, site)
        db.session.commit()
        return site_json(site)


@blp.route("/sites/<slug>/closures")
class ClosuresView(MethodView):
    @blp.doc(
        requestBody={
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "items": {"type": "string", "format": "date"},
                        "maxItems": MAX_CLOSURES,
                        "example": ["2026-12-25", "2027-01-01"],
                    }
                }
            },
        }
    )
    @blp.response(200, SiteSchema)
    def put(self, slug: str) -> dict:
        """Replace the closure days (holidays), as a JSON array of dates."""
        site = get_site(db.session, slug)
        require_site_manager(principal(), site)
        raw = json_body()
        try:
            days = CLOSURES.deserialize(raw)
        except ValidationError as exc:
            abort(400, messages={"json": exc.messages})
        set_closures(db.session, site, days)
        db.session.commit()
        return site_json(site)


@blp.route("/sites/<slug>/services")
class ServicesView(MethodView):
    @blp.response(200, ServiceSchema(many=True))
    def get(self, slug: str) -> list[dict]:
        """The site's services (staff, or the site's kiosk)."""
        site = get_site(db.session, slug)
        require_site_reader(principal(), site)
        return [service_json(s) for s in site.services]

    @blp.arguments(ServiceCreateSchema)
    @blp.response(201, ServiceSchema)
    @blp.alt_response(409, description="The code or the prefix is taken at this site")
    def post(self, body: dict, slug: str) -> dict:
        """Add a service; ``name`` is in the site's first language, ``names`` per language."""
        site = get_site(db.session, slug)
        require_site_manager(principal(), site)
        names = dict(body.get("names") or {})
        if body.get("name"):
            names.setdefault(site.default_language, body["name"])
        service = create_service(
            db.session,
            site,
            body["code"],
            names=names,
            prefix=body["prefix"],
            target_wait_minutes=body["target_wait_minutes"],
            avg_service_minutes=body["avg_service_minutes"],
            icon=body.get("icon"),
        )
        db.session.commit()
        return service_json(service)


@blp.route("/sites/<slug>/services/<code>")
class ServiceView(MethodView):
    @blp.response(200, ServiceSchema)
    def get(self, slug: str, code: str) -> dict:
        """One service."""
        site = get_site(db.session, slug)
        require_site_reader(principal(), site)
        return service_json(get_service(db.session, site, code))

    @blp.arguments(ServicePatchSchema)
    @blp.response(200, ServiceSchema)
    @blp.alt_response(409, description="The prefix is taken at this site")
    def patch(self, body: dict, slug: str, code: str) -> dict:
        """Change a service (names, prefix, target wait, average duration, active, booking).

        Booking: ``booking_enabled``, ``slot_minutes``, ``slot_capacity``,
        ``booking_days_ahead``; slots follow the site's opening hours.
        """
        site = get_site(db.session, slug)
        require_site_manager(principal(), site)
        service = get_service(db.session, site, code)
        changes: dict[str, Any] = dict(body)
        if "name" in changes:
            names = dict(changes.get("names") or service.names)
            names[site.default_language] = changes.pop("name")
            changes["names"] = names
        update_service(db.session, service, changes)
        update_booking_settings(service, changes)
        db.session.commit()
        return service_json(service)


def _service_links(site: Site, codes: list[str], weights: dict[str, int]) -> list[tuple]:
    unknown = set(weights) - set(codes)
    if unknown:
        raise errors.InvalidInput(field="weights", unknown=sorted(unknown))
    return [(get_service(db.session, site, code), weights.get(code, 1)) for code in codes]


@blp.route("/sites/<slug>/counters")
class CountersView(MethodView):
    @blp.response(200, CounterSchema(many=True))
    def get(self, slug: str) -> list[dict]:
        """The site's counters, who holds them and what they are serving (staff)."""
        site = get_site(db.session, slug)
        require_site_staff(principal(), site)
        result = []
        for counter in site.counters:
            ticket = current_ticket(db.session, counter)
            result.append(counter_json(counter, ticket.label if ticket else None))
        return result

    @blp.arguments(CounterCreateSchema)
    @blp.response(201, CounterSchema)
    @blp.alt_response(409, description="The name is taken at this site")
    def post(self, body: dict, slug: str) -> dict:
        """Add a counter serving some services, with optional weights (1-100, default 1)."""
        site = get_site(db.session, slug)
        require_site_manager(principal(), site)
        links = _service_links(site, body["services"], body.get("weights") or {})
        counter = create_counter(db.session, site, body["name"], links)
        db.session.commit()
        return counter_json(counter)


@blp.route("/sites/<slug>/counters/<int:counter_id>")
class CounterConfigView(MethodView):
    @blp.arguments(CounterPatchSchema)
    @blp.response(200, CounterSchema)
    @blp.alt_response(409, description="The name is taken at this site")
    def patch(self, body: dict, slug: str, counter_id: int) -> dict:
        """Rename a counter or change the services it serves and their weights."""
        site = get_site(db.session, slug)
        require_site_manager(principal(), site)
        counter = db.session.get(Counter, counter_id)
        if counter is None or counter.site_id != site.id:
            raise errors.NotFound(counter=counter_id)
        if "name" in body:
            rename_counter(db.session, counter, body["name"])
        if "services" in body or "weights" in body:
            codes = body.get("services") or [link.service.code for link in counter.service_links]
            weights = body.get("weights")
            if weights is None:
                weights = {
                    link.service.code: link.weight
                    for link in counter.service_links
                    if link.service.code in codes
                }
            set_counter_services(db.session, counter, _service_links(site, codes, weights))
        db.session.commit()
        return counter_json(counter)


@blp.route("/sites/<slug>/devices")
class DevicesView(MethodView):
    @blp.response(200, DeviceSchema(many=True))
    def get(self, slug: str) -> list[dict]:
        """The site's devices (without tokens)."""
        site = get_site(db.session, slug)
        require_site_manager(principal(), site)
        devices = db.session.scalars(
            select(Device).where(Device.site_id == site.id).order_by(Device.id)
        )
        return [device_json(d) for d in devices]

    @blp.arguments(DeviceCreateSchema)
    @blp.response(201, DeviceSchema)
    def post(self, body: dict, slug: str) -> dict:
        """Register a kiosk, display, tablet or printer; the answer shows its token once."""
        site = get_site(db.session, slug)
        require_site_manager(principal(), site)
        device, token = create_device(db.session, site, DeviceKind(body["kind"]), body["name"])
        configure_printer(db.session, device, body)
        db.session.commit()
        return device_json(device, token)


def _site_device(slug: str, device_id: int) -> Device:
    site = get_site(db.session, slug)
    require_site_manager(principal(), site)
    device = db.session.get(Device, device_id)
    if device is None or device.site_id != site.id:
        raise errors.NotFound(device=device_id)
    return device


@blp.route("/sites/<slug>/devices/<int:device_id>/rotate-token", methods=["POST"])
@blp.response(200, DeviceSchema)
def rotate_token(slug: str, device_id: int) -> dict:
    """Give a device a new token (the old one stops working; its open connections drop)."""
    device = _site_device(slug, device_id)
    token = rotate_device_token(db.session, device)
    db.session.commit()
    return device_json(device, token)


@blp.route("/sites/<slug>/devices/<int:device_id>/revoke", methods=["POST"])
@blp.response(200, DeviceSchema)
def revoke(slug: str, device_id: int) -> dict:
    """Revoke a lost or retired device's token (its open connections drop)."""
    device = _site_device(slug, device_id)
    revoke_device(db.session, device)
    db.session.commit()
    return device_json(device)


@blp.route("/sites/<slug>/board")
@blp.response(200, BoardSchema)
def get_board(slug: str) -> dict:
    """What a display shows: the latest calls and waiting counts (no personal data)."""
    site = get_site(db.session, slug)
    who = require_board_reader(principal(), site)
    # A display configured for some services sees only theirs.
    codes = [s.code for s in who.services] if isinstance(who, Device) else None
    answer = display_board(
        db.session, site, limit=int(current_app.config["BOARD_CALLS"]), service_codes=codes
    )
    answer["server_version"] = server_version()
    return answer
