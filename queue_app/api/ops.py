"""Operations: a site's open alerts; a print agent's report on its printer."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from ..extensions import db
from ..models import Device, DeviceKind
from ..ops.alerts import alert_json, open_alerts
from ..ops.printer_health import printer_state, record_agent_report
from ..queue import errors
from ..queue.sites import get_site
from ..security.permissions import require_principal, require_site_staff
from . import ApiBlueprint, principal
from .print_jobs import PrinterReportSchema

blp = ApiBlueprint("api_ops", __name__, description="Devices alive, printer health, alerts")


class AlertSchema(Schema):
    id = fields.Integer()
    kind = fields.String(
        metadata={
            "enum": [
                "device_offline",
                "printer_paper_low",
                "printer_paper_out",
                "printer_cover_open",
                "printer_offline",
                "sms_failing",
                "wait_over_target",
            ]
        }
    )
    device = fields.Integer(allow_none=True, metadata={"description": "the device it is about"})
    since = fields.String(metadata={"description": "when it opened (ISO, UTC)"})
    message = fields.String(metadata={"description": "what it says, in the asker's language"})


class AgentPrinterStatusSchema(Schema):
    kiosks = fields.List(fields.Integer(), metadata={"description": "the kiosks it prints for"})
    printer_status = fields.String(
        metadata={"enum": ["ok", "paper_low", "paper_out", "cover_open", "offline", "unknown"]}
    )


@blp.route("/sites/<slug>/alerts")
@blp.response(200, AlertSchema(many=True))
@blp.alt_response(403, description="Not staff of this site")
def list_alerts(slug: str) -> list[dict[str, Any]]:
    """The site's open alerts, oldest first (staff). One closes by itself when its cause ends."""
    site = get_site(db.session, slug)
    require_site_staff(principal(), site)
    return [alert_json(alert) for alert in open_alerts(db.session, site)]


@blp.route("/print-agents/me/printer-status", methods=["POST"])
@blp.arguments(PrinterReportSchema)
@blp.response(200, AgentPrinterStatusSchema)
@blp.alt_response(403, description="Not a print agent's token")
def agent_printer_status(body: dict, **_kwargs: Any) -> dict[str, Any]:
    """A print agent tells how its printer is (sent every few minutes while idle)."""
    who = require_principal(principal())
    if not isinstance(who, Device) or who.kind != DeviceKind.PRINTER:
        raise errors.Forbidden(reason="print agents only")
    agent = db.session.get(Device, who.id)
    if agent is None:
        raise errors.Forbidden(reason="print agents only")
    kiosks = record_agent_report(db.session, agent, body)
    db.session.commit()
    status = kiosks[0].printer_status if kiosks else None
    return {"kiosks": [kiosk.id for kiosk in kiosks], "printer_status": printer_state(status)}
