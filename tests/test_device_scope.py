"""Each device reads only what its front end needs.

A kiosk issues tickets and follows the print of each for a few seconds
(kiosk.js); it does not browse the office's tickets, their tracking codes, nor
who sits at which counter. A tablet rates the ticket its counter just served.
A display reads the board, and a print agent the jobs it prints; neither reads
tickets. A device token found on a kiosk PC in the evening opens no ticket of
the day.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from flask import Flask

from queue_app.extensions import db
from queue_app.models import DeviceKind, Site
from queue_app.queue.accounts import create_device

from .conftest import Api, Office

MORNING = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def second_kiosk(app: Flask, office: Office) -> str:
    with app.app_context():
        site = db.session.get(Site, office.site.id)
        _device, token = create_device(db.session, site, DeviceKind.KIOSK, "Borne 2")
        db.session.commit()
    return token


def use_printer(api: Api, office: Office) -> None:
    devices = api.get(f"sites/{office.slug}/devices", "manager").get_json()
    kiosk = next(d["id"] for d in devices if d["kind"] == "kiosk")
    response = api.patch(
        f"sites/{office.slug}/devices/{kiosk}", "manager", json={"printer": "dummy:scope"}
    )
    assert response.status_code == 200, response.get_json()


def test_a_kiosk_reads_back_only_the_ticket_it_just_issued(
    app: Flask, api: Api, office: Office
) -> None:
    use_printer(api, office)
    with time_machine.travel(MORNING, tick=False) as clock:
        mine = api.issue("CNI")
        by_staff = api.issue("CNI", as_="agent")
        other = api.issue("CNI", as_=second_kiosk(app, office))
        # Just issued: the kiosk reads its ticket and follows its print.
        assert api.get(f"tickets/{mine['id']}", "kiosk").status_code == 200
        job = mine["print_job"]["id"]
        assert api.get(f"print-jobs/{job}", "kiosk").status_code == 200
        # Never a ticket it did not issue: another kiosk's, or one staff issued.
        for ticket in (by_staff, other):
            refused = api.get(f"tickets/{ticket['id']}", "kiosk")
            assert refused.status_code == 403, refused.get_json()
            assert "code" not in refused.get_json()
        # Later in the day, not its own either (nor their print jobs): staff still do.
        clock.shift(timedelta(minutes=30))
        late = api.get(f"tickets/{mine['id']}", "kiosk")
        assert late.status_code == 403, late.get_json()
        assert late.get_json()["error"]["code"] == "forbidden"
        assert api.get(f"print-jobs/{job}", "kiosk").status_code == 403
        assert api.get(f"tickets/{mine['id']}", "agent").get_json()["code"] == mine["code"]
        assert api.get(f"print-jobs/{job}", "manager").status_code == 200


def test_a_kiosk_lists_its_services_but_not_the_counters_and_their_agents(api: Api) -> None:
    services = api.get("sites/thies/services", "kiosk")
    assert services.status_code == 200
    assert {s["code"] for s in services.get_json()} == {"CASIER", "CNI"}
    assert api.get("sites/thies/services/CNI", "kiosk").status_code == 200
    api.open_counter("g1")
    site = api.get("sites/thies", "kiosk")
    assert site.status_code == 403, site.get_json()
    assert "counters" not in site.get_json()
    assert api.get("sites/thies", "agent").get_json()["counters"][0]["agent"] is not None


def test_a_tablet_rates_only_the_ticket_its_counter_just_served(api: Api) -> None:
    first, second = api.issue("CNI"), api.issue("CNI")
    api.open_counter("g2")
    for ticket in (first, second):
        assert api.call_next("g2").get_json()["id"] == ticket["id"]
        assert api.post(f"tickets/{ticket['id']}/finish", "agent").status_code == 200
    # The counter served someone since: the first citizen's rating is not the tablet's to give.
    earlier = api.post(f"tickets/{first['id']}/feedback", "tablet", json={"rating": 1})
    assert earlier.status_code == 403, earlier.get_json()
    latest = api.post(f"tickets/{second['id']}/feedback", "tablet", json={"rating": 5})
    assert latest.status_code == 201, latest.get_json()


def test_displays_and_print_agents_read_no_ticket(api: Api, office: Office) -> None:
    use_printer(api, office)
    ticket = api.issue("CNI")
    for device in ("display", "printer", "tablet"):
        response = api.get(f"tickets/{ticket['id']}", device)
        assert response.status_code == 403, (device, response.get_json())
        assert api.get("sites/thies", device).status_code == 403, device
    # What they do need still works: the board for the display, the claim for the agent.
    assert api.get("sites/thies/board", "display").status_code == 200
    assert api.post("print-jobs/claim", "printer").status_code == 200
    assert api.get(f"print-jobs/{ticket['print_job']['id']}", "display").status_code == 403


def test_a_device_learns_nothing_of_complaints(api: Api) -> None:
    filed = api.post("sites/thies/complaints", json={"text": "Deux heures d'attente ce matin."})
    reference = filed.get_json()["reference"]
    for device in ("kiosk", "display", "tablet", "printer"):
        known: Any = api.get(f"complaints/{reference}", device)
        unknown: Any = api.get("complaints/ZZZZZZZZ", device)
        # The same answer whether the reference exists or not.
        assert known.status_code == unknown.status_code == 403, device
