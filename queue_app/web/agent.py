"""The agent console: take a counter, call, recall, serve, transfer, pause."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, time
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from ..extensions import db
from ..models import (
    Counter,
    EventKind,
    Role,
    Service,
    Site,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
    utcnow,
)
from ..ops.alerts import alert_json, open_alerts
from ..queue import (
    Actor,
    call_next,
    cancel,
    close_counter,
    finish,
    get_ticket,
    get_ticket_by_code,
    mark_no_show,
    open_counter,
    pause_counter,
    recall,
    start,
    transfer,
)
from ..queue.calling import current_ticket, lock_counter
from ..queue.days import service_day, zone
from ..queue.errors import DomainError, Forbidden, NotFound, NothingWaiting
from ..queue.estimates import queue_order, waiting_counts
from ..queue.sites import get_counter, get_service
from ..security.permissions import (
    belongs_to,
    require_counter_operator,
    require_counter_taker,
    require_ticket_operator,
)

bp = Blueprint("agent", __name__, url_prefix="/agent")

PAUSE_REASONS = ("break", "lunch", "meeting", "back_office", "other")
UPCOMING = 8


def _user() -> User:
    return db.session.get(User, int(current_user.get_id()))  # type: ignore[return-value]


def _is_fetch() -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


@bp.app_errorhandler(CSRFError)
def form_expired(error: CSRFError) -> Any:
    """A form posted without a valid token (a page left open for hours): nothing was done.

    Instead of a bare 400 page in English, the sign-in form comes back with a
    message, and a console form goes back to the console with one.
    """
    from ..api.errors import handle_http_exception
    from .auth import LoginForm

    if request.path.startswith("/api/") or _is_fetch():
        # The console's script reloads the page on anything but a panel.
        return handle_http_exception(error)
    if request.endpoint == "auth.login":
        return render_template("auth/login.html", form=LoginForm(), expired=True), 400
    flash(_("The page had expired: nothing was done. Try again."), "error")
    return redirect(url_for("agent.home"))


@bp.get("/")
@login_required
def home() -> Any:
    """Where an agent lands: their counter, or the list of counters to take one."""
    user = _user()
    held = db.session.scalar(select(Counter).where(Counter.agent_id == user.id))
    if held is not None and request.args.get("choose") is None:
        return redirect(url_for("agent.console", counter_id=held.id))
    sites = (
        db.session.scalars(select(Site).order_by(Site.name)).all()
        if user.role == Role.ADMIN
        else user.sites
    )
    if not sites:
        return render_template("agent/no_site.html"), 403
    slug = request.args.get("site")
    site = next((s for s in sites if s.slug == slug), sites[0])
    counters = [(c, current_ticket(db.session, c)) for c in site.counters]
    counts = waiting_counts(db.session, site, service_day(site, utcnow()))
    return render_template(
        "agent/choose.html",
        site=site,
        sites=sites,
        counters=counters,
        counts=counts,
        held=held,
        user=user,
    )


@bp.post("/counters/<int:counter_id>/open")
@login_required
def open_view(counter_id: int) -> Response:
    counter = get_counter(db.session, counter_id)
    user = require_counter_taker(_user(), counter)
    try:
        open_counter(db.session, counter, user)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for("agent.home", site=counter.site.slug, choose=1))
    return redirect(url_for("agent.console", counter_id=counter_id))


def _console_context(counter: Counter, user: User, error: str | None = None) -> dict[str, Any]:
    site = counter.site
    now = utcnow()
    day = service_day(site, now)
    service_ids = [link.service_id for link in counter.service_links]
    upcoming = (
        db.session.scalars(
            select(Ticket)
            .where(
                Ticket.service_id.in_(service_ids),
                Ticket.service_day == day,
                Ticket.status == TicketStatus.WAITING,
            )
            .order_by(*queue_order(now=utcnow()))
            .limit(UPCOMING)
        ).all()
        if service_ids
        else []
    )
    local_midnight = datetime.combine(day, time(0), tzinfo=zone(site.timezone))
    done_today = dict(
        db.session.execute(
            select(TicketEvent.kind, func.count(TicketEvent.id))
            .where(
                TicketEvent.counter_id == counter.id,
                TicketEvent.at >= local_midnight,
                TicketEvent.kind.in_(
                    [EventKind.FINISHED, EventKind.NO_SHOW, EventKind.TRANSFERRED]
                ),
            )
            .group_by(TicketEvent.kind)
        )
        .tuples()
        .all()
    )
    services = [s for s in site.services if s.is_active]
    counts = waiting_counts(db.session, site, day)
    my_services = {link.service.code for link in counter.service_links}
    return {
        "site": site,
        "counter": counter,
        "user": user,
        "ticket": current_ticket(db.session, counter),
        "counts": counts,
        "my_services": my_services,
        "waiting_here": sum(counts.get(code, 0) for code in my_services),
        "services": services,
        "upcoming": upcoming,
        "served_today": done_today.get(EventKind.FINISHED, 0),
        "no_show_today": done_today.get(EventKind.NO_SHOW, 0),
        "transferred_today": done_today.get(EventKind.TRANSFERRED, 0),
        "now": now,
        "pause_reasons": PAUSE_REASONS,
        "error": error,
        # The office's open alerts (ops/alerts.py): a banner above the console.
        "ops_alerts": [alert_json(alert) for alert in open_alerts(db.session, site)],
    }


def _own_counter(
    counter_id: int, *, operate: bool = False, lock: bool = False
) -> tuple[Counter, User]:
    """The counter and the signed-in user; 403 outside the user's sites.

    With ``operate``, an agent must hold the counter (managers and admins may act
    at any counter of their sites): another agent's counter is a 403 page, and a
    stale console tab whose counter was released gets one too (its script reloads).
    With ``lock`` (actions), the counter row is locked first, so the holder
    checked is still the holder when the action runs.
    """
    counter = lock_counter(db.session, counter_id) if lock else get_counter(db.session, counter_id)
    user = _user()
    if not belongs_to(user, counter.site):
        abort(403)
    if operate and user.role == Role.AGENT and counter.agent_id != user.id:
        abort(403)
    return counter, user


@bp.get("/counters/<int:counter_id>")
@login_required
def console(counter_id: int) -> Any:
    counter, user = _own_counter(counter_id)
    if counter.agent_id != user.id:
        flash(_("Take this counter to work at it."), "info")
        return redirect(url_for("agent.home", site=counter.site.slug, choose=1))
    return render_template("agent/console.html", **_console_context(counter, user))


@bp.get("/counters/<int:counter_id>/panel")
@login_required
def panel(counter_id: int) -> Any:
    counter, user = _own_counter(counter_id, operate=True)
    return render_template("agent/_panel.html", **_console_context(counter, user))


def _act(
    counter: Counter,
    action: Callable[[User], str | None],
    success: str | None = None,
    *,
    passing: bool = False,
) -> Any:
    """Run one action for the console: commit, then answer the panel or redirect.

    The action's notice stays on screen across the live refreshes for a few seconds (a
    check-in's ticket number is read out to the citizen), unless it is ``passing``
    ("nobody is waiting": the next refresh means somebody is).
    """
    user = _user()
    error, notice, status = None, None, 200
    try:
        notice = action(user)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        if isinstance(exc, Forbidden) and not _is_fetch():
            # A plain form post that is not allowed gets the 403 page, like any other page.
            abort(403)
        error, status = str(exc.message), exc.status
    counter = get_counter(db.session, counter.id)
    if _is_fetch():
        context = _console_context(counter, user, error)
        page = render_template(
            "agent/_panel.html", notice=notice, notice_passing=passing, **context
        )
        return page, status
    if error:
        flash(error, "error")
    elif message := notice or success:
        flash(message, "info")
    if counter.agent_id != user.id:
        return redirect(url_for("agent.home", site=counter.site.slug, choose=1))
    return redirect(url_for("agent.console", counter_id=counter.id))


@bp.post("/counters/<int:counter_id>/next")
@login_required
def next_view(counter_id: int) -> Any:
    counter, _user_ = _own_counter(counter_id, operate=True, lock=True)

    def action(user: User) -> str | None:
        require_counter_operator(user, counter)
        ticket = call_next(db.session, counter, actor=Actor(user=user))
        return str(NothingWaiting.default_message) if ticket is None else None

    return _act(counter, action, passing=True)


@bp.post("/counters/<int:counter_id>/pause")
@login_required
def pause_view(counter_id: int) -> Any:
    counter, _user_ = _own_counter(counter_id, operate=True, lock=True)
    reason = request.form.get("reason", "")
    if reason not in PAUSE_REASONS:
        reason = "other"

    def action(user: User) -> None:
        require_counter_operator(user, counter)
        pause_counter(db.session, counter, reason)
        return None

    return _act(counter, action)


@bp.post("/counters/<int:counter_id>/resume")
@login_required
def resume_view(counter_id: int) -> Any:
    counter, _user_ = _own_counter(counter_id, operate=True, lock=True)

    def action(user: User) -> None:
        require_counter_taker(user, counter)
        open_counter(db.session, counter, user)

    return _act(counter, action)


@bp.post("/counters/<int:counter_id>/close")
@login_required
def close_view(counter_id: int) -> Any:
    counter, _user_ = _own_counter(counter_id, operate=True, lock=True)

    def action(user: User) -> None:
        require_counter_operator(user, counter)
        close_counter(db.session, counter)

    return _act(counter, action, _("Counter closed. Good work!"))


TICKET_ACTIONS: dict[str, Callable[..., Ticket]] = {
    "recall": recall,
    "start": start,
    "finish": finish,
    "no-show": mark_no_show,
    "cancel": cancel,
}


LABEL_RE = re.compile(r"^([A-Z]{1,3})-?0*([0-9]{1,5})$")


@bp.post("/counters/<int:counter_id>/reprint")
@login_required
def reprint_view(counter_id: int) -> Any:
    """Print a ticket again at the kiosk printer (a paper jam, a lost ticket): by id, by its
    number (B-007) or by its tracking code as typed (any case, spaces)."""
    from ..printing.spool import reprint_ticket
    from ..queue.numbering import format_label

    counter, _user_ = _own_counter(counter_id, operate=True)
    ticket_id = request.form.get("ticket_id", "")
    typed = "".join(request.form.get("label", "").split()).upper()[:24]

    def by_label_or_code() -> Ticket:
        """Today's ticket of this office with this number (B-007, b7) or tracking code."""
        today = service_day(counter.site, utcnow())
        match = LABEL_RE.match(typed)
        label = format_label(match.group(1), int(match.group(2))) if match else typed
        ticket = db.session.scalar(
            select(Ticket).where(
                Ticket.site_id == counter.site_id,
                Ticket.service_day == today,
                Ticket.label == label,
            )
        )
        if ticket is None and typed:
            try:
                ticket = get_ticket_by_code(db.session, typed)
            except NotFound:
                ticket = None
            if ticket is not None and (
                ticket.site_id != counter.site_id or ticket.service_day != today
            ):
                ticket = None  # another office's or another day's: not this counter's to print
        if ticket is None:
            raise NotFound(_("No ticket %(label)s today.", label=label or "?"))
        return ticket

    def action(user: User) -> str:
        ticket: Ticket | None
        if ticket_id.isdigit():
            ticket = get_ticket(db.session, int(ticket_id))
        else:
            ticket = by_label_or_code()
        if ticket.site_id != counter.site_id:
            raise Forbidden()
        reprint_ticket(db.session, ticket, actor=Actor(user=user))
        return _("Reprint sent to the kiosk printer: %(label)s.", label=ticket.label)

    return _act(counter, action)


@bp.post("/counters/<int:counter_id>/tickets/<int:ticket_id>/<action>")
@login_required
def ticket_view(counter_id: int, ticket_id: int, action: str) -> Any:
    counter, _user_ = _own_counter(counter_id, operate=True)
    if action not in TICKET_ACTIONS and action != "transfer":
        abort(404)
    target = request.form.get("service", "")

    def run(user: User) -> None:
        ticket = get_ticket(db.session, ticket_id, lock=True)
        require_ticket_operator(user, ticket)
        if ticket.site_id != counter.site_id:
            raise Forbidden()
        if action == "transfer":
            service: Service = get_service(db.session, counter.site, target)
            transfer(db.session, ticket, service, actor=Actor(user=user))
        else:
            TICKET_ACTIONS[action](db.session, ticket, actor=Actor(user=user))

    return _act(counter, run)


@bp.post("/counters/<int:counter_id>/check-in")
@login_required
def check_in_view(counter_id: int) -> Any:
    """Check in an appointment by its code: it becomes a ticket, called first at its time."""
    from flask import current_app

    from ..queue.booking import BookingRules, check_in, get_appointment

    counter, _user_ = _own_counter(counter_id, operate=True)
    reference = request.form.get("reference", "")[:16]

    def action(user: User) -> str:
        appointment = get_appointment(db.session, reference, lock=True)
        if appointment.site_id != counter.site_id:
            raise Forbidden()
        rules = BookingRules.from_config(current_app.config)
        issued = check_in(db.session, appointment, actor=Actor(user=user), rules=rules)
        return _("Checked in: ticket %(label)s.", label=issued.ticket.label)

    return _act(counter, action)
