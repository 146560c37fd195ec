"""Models → plain dicts of the API's answers (dumped by the schemas)."""

from __future__ import annotations

from typing import Any

from ..models import Counter, Device, DeviceKind, Service, Site, Ticket, User
from ..ops.devices import presence
from ..ops.printer_health import printer_state
from ..queue.phones import mask_phone
from ..realtime.publish import iso, track_url
from ..sms.offices import keyword_of


def service_json(service: Service) -> dict[str, Any]:
    return {
        "code": service.code,
        "name": service.name,
        "names": service.names,
        "prefix": service.prefix,
        "target_wait_minutes": service.target_wait_minutes,
        "avg_service_minutes": round(service.avg_service_seconds / 60, 2),
        "is_active": service.is_active,
        "position": service.position,
        "booking_enabled": service.booking_enabled,
        "slot_minutes": service.slot_minutes,
        "slot_capacity": service.slot_capacity,
        "booking_days_ahead": service.booking_days_ahead,
        "icon": service.icon,
        "sms_name": service.sms_name,
        "priority_rule": service.priority_rule.value,
    }


def counter_json(counter: Counter, current_label: str | None = None) -> dict[str, Any]:
    return {
        "id": counter.id,
        "site": counter.site.slug,
        "name": counter.name,
        "state": counter.state.value,
        "pause_reason": counter.pause_reason,
        "services": [link.service.code for link in counter.service_links],
        "weights": {link.service.code: link.weight for link in counter.service_links},
        "agent": (
            {"id": counter.agent.id, "name": counter.agent.display_name}
            if counter.agent is not None
            else None
        ),
        "current_ticket": current_label,
    }


def site_json(site: Site, *, detail: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": site.id,
        "slug": site.slug,
        "name": site.name,
        "timezone": site.timezone,
        "languages": site.languages,
        "hours": site.hours,
        "closures": [closure.day for closure in site.closures],
        "sms_keyword": keyword_of(site),
        "alert_phone": mask_phone(site.alert_phone) if site.alert_phone else None,
    }
    if detail:
        data["services"] = [service_json(s) for s in site.services]
        data["counters"] = [counter_json(c) for c in site.counters]
    return data


def device_json(device: Device, token: str | None = None) -> dict[str, Any]:
    data = {
        "id": device.id,
        "site": device.site.slug,
        "kind": device.kind.value,
        "name": device.name,
        "created_at": iso(device.created_at),
        "revoked": device.revoked_at is not None,
        # The services it is configured for ([]: all of its site's).
        "services": [service.code for service in device.services],
        # Seen within DEVICE_OFFLINE_SECONDS (ops/devices.py).
        **presence(device),
    }
    if device.kind == DeviceKind.KIOSK:
        data["printer"] = device.printer
        data["printer_options"] = device.printer_options or {}
        data["print_agent"] = device.print_agent_id
        if device.printer or device.print_agent_id:
            data["printer_status"] = printer_state(device.printer_status)
    if token is not None:
        data["token"] = token
    return data


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "full_name": user.full_name,
        "role": user.role.value,
        "sites": [site.slug for site in user.sites],
        "is_active": user.is_active,
    }


def ticket_json(ticket: Ticket, position: int | None, wait: int | None) -> dict[str, Any]:
    """A ticket as every API answer writes it (the one serializer of TicketSchema)."""
    counter = ticket.counter
    return {
        "id": ticket.id,
        "code": ticket.code,
        "number": ticket.number,
        "label": ticket.label,
        "service": ticket.service.code,
        # The site held by the ticket: a cached service's own is not loaded.
        "service_name": ticket.service.name_in(None, site=ticket.site),
        "status": ticket.status.value,
        "priority": ticket.priority_rank == 0,
        "source": ticket.source.value,
        "position": position,
        "estimated_wait_minutes": wait,
        "counter": {"id": counter.id, "name": counter.name} if counter is not None else None,
        "service_day": ticket.service_day.isoformat(),
        "issued_at": iso(ticket.issued_at),
        "called_at": iso(ticket.called_at),
        "started_at": iso(ticket.started_at),
        "finished_at": iso(ticket.finished_at),
        "recall_count": ticket.recall_count,
        "transfer_count": ticket.transfer_count,
        "track_url": track_url(ticket.code),
    }
