"""Administration and the quality dashboard (/admin): admins everywhere, managers on their sites.

Views stay thin: they check who asks, parse a form, call the domain functions
of queue_app/queue and queue_app/quality (the same rules as the API), commit,
and redirect. Every configuration change lands in the audit log by itself
(queue_app/quality/audit.py).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from ...extensions import db
from ...models import Role, Site, User
from ...quality.complaints import open_counts
from ...queue.days import zone
from ...queue.errors import NotFound
from ...security.permissions import can_manage_site

bp = Blueprint("admin", __name__, url_prefix="/admin")


def actor() -> User:
    """The signed-in admin or manager (checked before every admin view)."""
    return g.admin_user


def is_admin() -> bool:
    return actor().role == Role.ADMIN


@bp.before_request
def _admins_and_managers_only() -> Any:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    user = db.session.get(User, int(current_user.get_id()))
    if user is None or user.role not in (Role.ADMIN, Role.MANAGER):
        abort(403)
    g.admin_user = user
    return None


@bp.errorhandler(CSRFError)
def _form_expired(error: CSRFError) -> Any:
    """A form left open too long (or posted from elsewhere): nothing was done; back to it."""
    flash(_("The page had expired: nothing was done. Try again."), "error")
    return redirect(request.full_path.rstrip("?") if request.method == "GET" else request.path)


def managed_sites() -> list[Site]:
    """The sites the user administers: all for an admin, their own for a manager."""
    user = actor()
    if user.role == Role.ADMIN:
        return list(db.session.scalars(select(Site).order_by(Site.name)))
    return sorted(user.sites, key=lambda site: site.name)


def site_or_403(slug: str) -> Site:
    """The site of the URL, when the user manages it (404 unknown, 403 someone else's)."""
    site = db.session.scalar(select(Site).where(Site.slug == slug))
    if site is None:
        raise NotFound(site=slug)
    if not can_manage_site(actor(), site):
        abort(403)
    return site


def require_admin() -> None:
    if not is_admin():
        abort(403)


@bp.app_template_filter("format_day")
def format_day(day: date | None, style: str = "medium") -> str:
    """A date in the page's language: 2 mars 2026."""
    return format_date(day, style) if day is not None else "—"


@bp.app_template_filter("format_month")
def format_month(day: date | None) -> str:
    """A month in the page's language: mars 2026."""
    return format_date(day, "LLLL yyyy") if day is not None else "—"


@bp.app_template_filter("parse_moment")
def parse_moment(value: str | None) -> datetime | None:
    """An ISO 8601 instant stored as text (a printer's last status) as a datetime."""
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


@bp.app_template_filter("format_moment")
def format_moment(moment: datetime | None, timezone: str | None = None) -> str:
    """An instant in a site's time zone, in the page's language: 2 mars 2026 08:12."""
    if moment is None:
        return "—"
    local = moment.astimezone(zone(timezone)) if timezone else moment
    return f"{format_date(local.date(), 'medium')} {local.strftime('%H:%M')}"


@bp.app_context_processor
def _admin_nav() -> dict[str, Any]:
    """Open and overdue complaints for the badge of the admin menu."""

    def complaints_badge() -> tuple[int, int]:
        if "admin_badge" not in g:
            sites = managed_sites()
            counts = open_counts(db.session, [s.id for s in sites]) if sites else {}
            g.admin_badge = (
                sum(open_ for open_, _late in counts.values()),
                sum(late for _open, late in counts.values()),
            )
        return g.admin_badge

    def can_administer() -> bool:
        return bool(
            getattr(current_user, "is_authenticated", False)
            and getattr(current_user, "role", None) in (Role.ADMIN, Role.MANAGER)
        )

    def ops_alerts() -> list[tuple[Site, dict[str, Any]]]:
        """Open alerts of the sites the user manages (ops/alerts.py), for the banner."""
        if "admin_alerts" not in g:
            from ...ops.alerts import alert_json, open_alerts

            g.admin_alerts = [
                (site, alert_json(alert))
                for site in managed_sites()
                for alert in open_alerts(db.session, site)
            ]
        return g.admin_alerts

    return {
        "complaints_badge": complaints_badge,
        "can_administer": can_administer,
        "ops_alerts": ops_alerts,
    }


from . import (  # noqa: E402,F401
    appointments,
    audit,
    complaints,
    counters,
    dashboard,
    devices,
    services,
    sites,
    sms,
    users,
    voices,
)
