"""The quality dashboard: waiting times, service, satisfaction and complaints, per office."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import current_app, flash, render_template, request
from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import select

from ...api.quality import csv_response
from ...extensions import db
from ...models import Counter, Feedback, Service, Site, utcnow
from ...quality.complaints import open_counts
from ...quality.stats import check_range, multi_site_report, parse_day, site_report
from ...queue.days import service_day
from ...queue.errors import DomainError
from . import bp, managed_sites, site_or_403

LATEST_COMMENTS = 8


@dataclass
class Choice:
    """What the dashboard shows: one site or all the user's, over a range of days."""

    sites: list[Site]
    site: Site | None  # None: all of them
    first: date
    last: date
    today: date


def _choice() -> Choice | None:
    sites = managed_sites()
    if not sites:
        return None
    wanted = request.args.get("site") or ("all" if len(sites) > 1 else sites[0].slug)
    site = None if wanted == "all" else site_or_403(wanted)
    today = service_day(site or sites[0], utcnow())
    days = int(current_app.config["DASHBOARD_DEFAULT_DAYS"])
    first, last = today - timedelta(days=days - 1), today
    try:
        first = parse_day(request.args.get("from"), "from") or first
        last = parse_day(request.args.get("to"), "to") or last
        check_range(first, last)
    except DomainError as error:
        flash(str(error.message), "error")
        first, last = today - timedelta(days=days - 1), today
    return Choice(sites, site, first, last, today)


def presets(today: date) -> list[tuple[str, date, date]]:
    """Ranges offered in one click."""
    last_month_end = today.replace(day=1) - timedelta(days=1)
    return [
        (_("Today"), today, today),
        (_("Yesterday"), today - timedelta(days=1), today - timedelta(days=1)),
        (_("7 days"), today - timedelta(days=6), today),
        (_("30 days"), today - timedelta(days=29), today),
        (_("Last month"), last_month_end.replace(day=1), last_month_end),
    ]


def _report(choice: Choice) -> dict[str, Any]:
    if choice.site is None:
        return multi_site_report(db.session, choice.sites, choice.first, choice.last)
    return site_report(db.session, choice.site, choice.first, choice.last)


def _charts(report: dict[str, Any], single_day: bool) -> dict[str, Any]:
    """What the charts draw (read by admin.js from a JSON block)."""
    if single_day:
        series = [
            {
                "label": f"{row['hour']:02d} h",
                "issued": row["issued"],
                "served": row["served"],
                "wait": row["waiting_minutes"]["mean"],
                "p90": row["waiting_minutes"]["p90"],
            }
            for row in report["hours"]
        ]
    else:
        series = [
            {
                "label": format_date(date.fromisoformat(row["day"]), "d MMM"),
                "issued": row["issued"],
                "served": row["served"],
                "wait": row["waiting_minutes"]["mean"],
                "p90": row["waiting_minutes"]["p90"],
            }
            for row in report["days"]
        ]
    return {
        "by": "hour" if single_day else "day",
        "series": series,
        "labels": {
            "issued": _("Tickets issued"),
            "served": _("Citizens served"),
            "wait": _("Mean wait (min)"),
            "p90": _("9 in 10 waited less than (min)"),
            "target": _("Target (min)"),
            "ratings": _("Ratings"),
        },
        "services": [
            {
                "label": row["name"],
                "wait": row["waiting_minutes"]["mean"],
                "median": row["waiting_minutes"]["median"],
                "target": row.get("target_wait_minutes"),
            }
            for row in report["services"]
            if row["waiting_minutes"]["count"]
        ],
        "ratings": report["totals"]["satisfaction"]["distribution"],
    }


def _latest_comments(sites: list[Site]) -> list[tuple[Feedback, Service | None, Counter | None]]:
    rows = db.session.execute(
        select(Feedback, Service, Counter)
        .join(Service, Service.id == Feedback.service_id)
        .outerjoin(Counter, Counter.id == Feedback.counter_id)
        .where(Feedback.site_id.in_([s.id for s in sites]), Feedback.comment.is_not(None))
        .order_by(Feedback.created_at.desc())
        .limit(LATEST_COMMENTS)
    ).all()
    return [(feedback, service, counter) for feedback, service, counter in rows]


@bp.get("/")
def dashboard() -> Any:
    """The manager's morning page: yesterday's and today's figures against the targets."""
    choice = _choice()
    if choice is None:
        return render_template("admin/no_site.html")
    report = _report(choice)
    shown = choice.sites if choice.site is None else [choice.site]
    complaints = open_counts(db.session, [s.id for s in shown])
    return render_template(
        "admin/dashboard.html",
        choice=choice,
        report=report,
        presets=presets(choice.today),
        charts=_charts(report, choice.first == choice.last),
        complaints=complaints,
        complaints_total=(
            sum(o for o, _late in complaints.values()),
            sum(late for _o, late in complaints.values()),
        ),
        comments=_latest_comments(shown),
        site_by_slug={s.slug: s for s in choice.sites},
        site_tz={s.id: s.timezone for s in choice.sites},
    )


@bp.get("/export.csv")
def export() -> Any:
    """The dashboard's figures as CSV (the same as the stats API)."""
    choice = _choice()
    if choice is None:
        return render_template("admin/no_site.html")
    return csv_response(_report(choice), choice.site.slug if choice.site else "all")
