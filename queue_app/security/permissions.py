"""Who may do what. Views call one of these before calling a domain operation.

Principals are users (admin, manager, agent) and devices (kiosk, display,
tablet, printer). Admins may do everything; managers act on their sites;
agents work at the counters of their sites; a device acts for its own site only,
and reads only what its front end needs: a kiosk its site's services and, for a
few minutes, the tickets it issued and their print jobs; a display its site's
board; a tablet the prompt of a counter; a print agent the jobs it prints.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..models import (
    ACTIVE_STATUSES,
    Counter,
    Device,
    DeviceKind,
    PrintJob,
    Role,
    Site,
    Ticket,
    User,
)
from ..queue.errors import Forbidden, Unauthorized

Principal = User | Device


def require_principal(principal: Principal | None) -> Principal:
    """Anyone authenticated, else 401."""
    if principal is None:
        raise Unauthorized()
    return principal


def require_user(principal: Principal | None, *roles: Role) -> User:
    """A user (of one of ``roles`` when given), else 401/403."""
    principal = require_principal(principal)
    if not isinstance(principal, User) or (roles and principal.role not in roles):
        raise Forbidden()
    return principal


def is_admin(principal: Principal | None) -> bool:
    return isinstance(principal, User) and principal.role == Role.ADMIN


def belongs_to(user: User, site: Site) -> bool:
    """Whether the user is attached to the site (admins are attached everywhere)."""
    return user.role == Role.ADMIN or any(s.id == site.id for s in user.sites)


def can_manage_site(principal: Principal | None, site: Site) -> bool:
    return isinstance(principal, User) and (
        principal.role == Role.ADMIN
        or (principal.role == Role.MANAGER and belongs_to(principal, site))
    )


def require_site_manager(principal: Principal | None, site: Site) -> User:
    """An admin, or a manager of this site."""
    user = require_user(principal)
    if not can_manage_site(user, site):
        raise Forbidden()
    return user


def require_site_staff(principal: Principal | None, site: Site) -> User:
    """An admin, or a manager or agent of this site."""
    user = require_user(principal)
    if not belongs_to(user, site):
        raise Forbidden()
    return user


def is_device_of(principal: Principal | None, site: Site, *kinds: DeviceKind) -> bool:
    return (
        isinstance(principal, Device) and principal.site_id == site.id and principal.kind in kinds
    )


def require_site_reader(principal: Principal | None, site: Site) -> Principal:
    """Staff of the site, or its kiosk (which lists the services it offers, and checks in
    appointments)."""
    principal = require_principal(principal)
    if is_device_of(principal, site, DeviceKind.KIOSK):
        return principal
    return require_site_staff(principal, site)


def require_ticket_issuer(principal: Principal | None, site: Site) -> Principal:
    """Staff of the site, or a kiosk of the site."""
    return require_site_reader(principal, site)


def require_board_reader(principal: Principal | None, site: Site) -> Principal:
    """Staff of the site, or a display of the site."""
    principal = require_principal(principal)
    if is_device_of(principal, site, DeviceKind.DISPLAY):
        return principal
    return require_site_staff(principal, site)


def require_counter_taker(principal: Principal | None, counter: Counter) -> User:
    """A user of the counter's site who may sit at it (agents, managers, admins)."""
    return require_site_staff(principal, counter.site)


def require_counter_operator(principal: Principal | None, counter: Counter) -> User:
    """The agent holding the counter, or a manager of its site, or an admin."""
    user = require_site_staff(principal, counter.site)
    if not holds_or_oversees(user, counter.agent_id):
        raise Forbidden(reason="not_your_counter")
    return user


def holds_or_oversees(user: User, counter_agent_id: int | None) -> bool:
    """Whether a user of a counter's site may operate it: its agent, or a manager or admin."""
    return user.role != Role.AGENT or counter_agent_id == user.id


def require_ticket_operator(principal: Principal | None, ticket: Ticket) -> User:
    """Who may change a ticket: for a ticket at a counter, the agent holding it.

    Waiting tickets may be cancelled or transferred by any agent of the site.
    """
    user = require_site_staff(principal, ticket.site)
    at_counter = ticket.status in ACTIVE_STATUSES and ticket.counter is not None
    if user.role == Role.AGENT and at_counter and ticket.counter.agent_id != user.id:  # type: ignore[union-attr]
        raise Forbidden(reason="not_your_counter")
    return user


def require_ticket_reader(
    principal: Principal | None, ticket: Ticket, *, device_window: timedelta, now: datetime
) -> Principal:
    """Staff of the ticket's site, or the kiosk that issued it within ``device_window``.

    A kiosk only needs the ticket it just issued (its answer, the print it follows);
    a kiosk token does not read the day's tickets and their tracking codes.
    """
    principal = require_principal(principal)
    if isinstance(principal, Device):
        if principal.id == ticket.device_id and now - ticket.issued_at <= device_window:
            return principal
        raise Forbidden(reason="not a ticket this device just issued")
    return require_site_staff(principal, ticket.site)


def require_print_job_reader(
    principal: Principal | None, job: PrintJob, site: Site, *, device_window: timedelta,
    now: datetime,
) -> Principal:  # fmt: skip
    """Staff of the job's site, its print agent, or the kiosk it prints for within
    ``device_window`` (the kiosk page follows its print for a few seconds)."""
    principal = require_principal(principal)
    if isinstance(principal, Device):
        if principal.id == job.agent_id:
            return principal
        if principal.id == job.device_id and now - job.created_at <= device_window:
            return principal
        raise Forbidden(reason="not a print job of this device")
    return require_site_staff(principal, site)


def visible_sites_filter(user: User) -> list[int] | None:
    """Site ids a user sees in lists; None means all (admin)."""
    if user.role == Role.ADMIN:
        return None
    return [site.id for site in user.sites]
