"""CSV: the statistics report, and :func:`csv_text`, which every CSV the app writes goes through.

The report has one line per row of every section, the same figures as the JSON.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .stats import RATINGS

CSV_COLUMNS = (
    "scope",
    "key",
    "name",
    "issued",
    "served",
    "no_show",
    "cancelled",
    "transferred",
    "waiting_mean",
    "waiting_median",
    "waiting_p90",
    "service_mean",
    "service_median",
    "service_p90",
    "within_target_pct",
    "satisfaction_mean",
    "satisfaction_count",
    *(f"rating_{r}" for r in RATINGS),
    "estimate_error_mean",
)


def _csv_row(scope: str, key: Any, name: str, data: dict[str, Any]) -> list[Any]:
    def blank(value: Any) -> Any:
        return "" if value is None else value

    wait, service, sat = data["waiting_minutes"], data["service_minutes"], data["satisfaction"]
    return [
        scope,
        key,
        name,
        data["issued"],
        data["served"],
        data["no_show"],
        data["cancelled"],
        data["transferred"],
        blank(wait["mean"]),
        blank(wait["median"]),
        blank(wait["p90"]),
        blank(service["mean"]),
        blank(service["median"]),
        blank(service["p90"]),
        blank(data["within_target_pct"]),
        blank(sat["mean"]),
        sat["count"],
        *(sat["distribution"][str(r)] for r in RATINGS),
        blank(data["estimate_error_minutes"]["mean"]),
    ]


def report_csv(report: dict[str, Any]) -> str:
    """The report as CSV: one line per row of every section, the same figures as the JSON."""
    return csv_text(_report_rows(report))


def _report_rows(report: dict[str, Any]) -> Iterator[Sequence[Any]]:
    yield CSV_COLUMNS
    label = report.get("site", "all")
    yield _csv_row("total", label, report.get("site_name", ""), report["totals"])
    for item in report.get("sites", []):
        yield _csv_row("site", item["slug"], item["name"], item)
    for item in report["services"]:
        yield _csv_row("service", item["code"], item["name"], item)
    for item in report.get("counters", []):
        yield _csv_row("counter", item["id"], item["name"], item)
    for item in report.get("agents", []):
        yield _csv_row("agent", item["id"], item["name"], item)
    for item in report["hours"]:
        yield _csv_row("hour", item["hour"], f"{item['hour']:02d}:00", item)
    for item in report["days"]:
        yield _csv_row("day", item["day"], item["day"], item)


# A spreadsheet reads a cell starting with one of these as a formula (or a DDE
# command): "=HYPERLINK(...)" typed as a service name would run in the national
# team's spreadsheet. OWASP's advice: such text cells start with a single quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A cell as written to CSV: text that a spreadsheet would run gets a leading quote.

    Only text is changed: numbers (negative ones too) stay numbers, None an empty cell.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """Rows as CSV text (RFC 4180 quoting, CRLF), every text cell made spreadsheet-safe.

    Every CSV the app writes goes through here.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([spreadsheet_safe(value) for value in row])
    return out.getvalue()
