"""The print spool: kiosk printers by URL, retries, printed once, staff reprints, agents' API."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import select

from queue_app.extensions import db, socketio
from queue_app.models import Device, DeviceKind, PrintJob

from .conftest import Api, Office
from .fake_printer import FakePrinter

FAST_RETRIES = {
    "PRINT_RETRY_BASE_SECONDS": 0.05,
    "PRINT_RETRY_MAX_SECONDS": 0.2,
    "PRINT_TIMEOUT_SECONDS": 2.0,
    "PRINT_PAPER_QUERY_SECONDS": 1.0,
}


@pytest.fixture
def app_config() -> dict[str, Any]:
    return dict(FAST_RETRIES)


@pytest.fixture
def printer():
    fake = FakePrinter().start()
    yield fake
    fake.stop()


def device_id(office: Office, kind: str) -> int:
    with office.app.app_context():
        return db.session.scalar(
            select(Device.id).where(Device.site_id == office.site.id, Device.kind == kind)
        )


def set_printer(api: Api, office: Office, **settings: Any) -> dict[str, Any]:
    kiosk = device_id(office, DeviceKind.KIOSK)
    response = api.patch(f"sites/{office.slug}/devices/{kiosk}", "manager", json=settings)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def job_of(api: Api, job_id: int, as_: str = "kiosk") -> dict[str, Any]:
    response = api.get(f"print-jobs/{job_id}", as_)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def wait_until(predicate, timeout: float = 10.0) -> Any:
    """Poll a condition on committed state until it holds (bounded, never a blind sleep)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def settle(app) -> None:
    """Run the print spool once more: nothing left due may print again."""
    app.extensions["queue_app.print_worker"].run_once()


def test_a_kiosk_ticket_is_printed_once_on_its_network_printer(app, api, office, printer):
    settings = set_printer(api, office, printer=printer.url)
    assert settings["printer"] == printer.url
    ticket = api.issue("CNI")
    assert ticket["print_job"]["status"] in ("pending", "printing", "done")
    assert printer.wait_for(1)
    paper = printer.prints[0]
    assert paper.startswith(b"\x1b@\x1bt\x10")
    assert b"Espace S\xe9n\xe9gal Services thies" in paper
    assert b"\x1d!\x33B-001\n" in paper
    assert f"/t/{ticket['code']}".encode() in paper
    # Under the QR, the code to type when it will not scan: big, in groups of four.
    grouped = f"{ticket['code'][:4]}-{ticket['code'][4:]}".encode()
    assert b"Code de suivi\xa0:\n" in paper
    assert b"\x1d!\x11" + grouped + b"\n" in paper
    assert b"/t/" + grouped + b"\n" in paper
    job_id = ticket["print_job"]["id"]
    job = wait_until(lambda: (j := job_of(api, job_id))["status"] == "done" and j)
    assert job["printer_status"]["online"] is True
    assert job["printer_status"]["paper"] == "ok"
    settle(app)
    assert len(printer.prints) == 1


def test_the_code_printed_under_the_qr_opens_the_tracking_page(app, api, office, printer):
    """Typed from the paper as people type it: with its dash, a space, in small letters."""
    import re

    set_printer(api, office, printer=printer.url)
    ticket = api.issue("CNI")
    assert printer.wait_for(1)
    address = re.search(rb"(\S+/t/)([A-Z2-9]{4}-[A-Z2-9]{4})\n", printer.prints[0])
    assert address, printer.prints[0]
    printed = address.group(2).decode()
    client = app.test_client()
    for typed in (printed, printed.lower(), printed.replace("-", " "), printed.replace("-", "")):
        page = client.get(f"/t/{typed}")
        assert page.status_code == 200, typed
        assert ticket["label"] in page.get_data(as_text=True)
        assert client.get(f"/api/v1/track/{typed}").get_json()["label"] == ticket["label"]
    assert client.get(f"/t/{printed[:-1]}").status_code == 404


def test_printer_down_at_issue_time_then_up_prints_exactly_once(app, api, office):
    printer = FakePrinter()  # unplugged: its port refuses connections
    set_printer(api, office, printer=printer.url)
    ticket = api.issue("CASIER")
    assert ticket["label"] == "A-001"  # the ticket is issued and shown all the same
    job_id = ticket["print_job"]["id"]
    # Retried with backoff while the printer is away; the kiosk learns it is offline.
    job = wait_until(lambda: (j := job_of(api, job_id))["attempts"] >= 3 and j)
    assert job["status"] in ("pending", "printing")
    assert job["printer_status"]["online"] is False
    assert job["last_error"]
    printer.start()
    try:
        assert printer.wait_for(1)
        wait_until(lambda: job_of(api, job_id)["status"] == "done")
        settle(app)
        assert len(printer.prints) == 1
        assert b"A-001" in printer.prints[0]
    finally:
        printer.stop()


def test_several_tickets_queued_while_the_printer_is_away_print_once_each_in_order(
    app, api, office
):
    printer = FakePrinter()
    set_printer(api, office, printer=printer.url)
    labels = [api.issue("CNI")["label"] for _ in range(4)]
    printer.start()
    try:
        assert printer.wait_for(4)
        settle(app)
        assert len(printer.prints) == 4
        printed = [next(label for label in labels if label.encode() in p) for p in printer.prints]
        assert printed == labels
    finally:
        printer.stop()


@pytest.mark.parametrize("app_config", [{**FAST_RETRIES, "PRINT_GIVE_UP_MINUTES": 0}])
def test_a_job_given_up_is_listed_for_staff_who_reprint_it(app, api, office, app_config):
    printer = FakePrinter()
    set_printer(api, office, printer=printer.url)
    ticket = api.issue("CNI")
    job_id = ticket["print_job"]["id"]
    wait_until(lambda: job_of(api, job_id)["status"] == "failed")
    failed = api.get(f"sites/{office.slug}/print-jobs?status=failed", "agent").get_json()
    assert [(job["id"], job["ticket"]["label"]) for job in failed] == [(job_id, "B-001")]
    assert api.get(f"sites/{office.slug}/print-jobs?status=failed", "kiosk").status_code == 403
    printer.start()
    try:
        retried = api.post(f"print-jobs/{job_id}/reprint", "agent")
        assert retried.status_code == 200, retried.get_json()
        assert retried.get_json()["id"] == job_id
        assert printer.wait_for(1)
        wait_until(lambda: job_of(api, job_id)["status"] == "done")
        assert api.get(f"sites/{office.slug}/print-jobs?status=failed", "agent").get_json() == []
    finally:
        printer.stop()


def test_a_lost_ticket_is_reprinted_as_a_duplicate(app, api, office, printer):
    set_printer(api, office, printer=printer.url)
    first = api.issue("CNI")
    second = api.issue("CNI")
    assert printer.wait_for(2)
    response = api.post(f"tickets/{second['id']}/reprint", "agent")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["kind"] == "reprint"
    assert printer.wait_for(3)
    duplicate = printer.prints[2]
    assert b"DUPLICATA" in duplicate
    assert b"B-002" in duplicate
    assert b"1 personne avant vous" in duplicate  # B-001 is still ahead
    assert first["label"] == "B-001"


def test_reprint_without_any_printing_kiosk_is_a_clear_409(api, office):
    ticket = api.issue("CNI")
    assert ticket.get("print_job") is None
    response = api.post(f"tickets/{ticket['id']}/reprint", "agent")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "no_printer"


def test_a_retried_kiosk_request_prints_one_ticket(app, api, office):
    set_printer(api, office, printer="dummy:retry")
    headers = {"Idempotency-Key": "tap-1"}
    url, body = f"sites/{office.slug}/tickets", {"service": "CNI"}
    first = api.post(url, "kiosk", json=body, headers=headers)
    again = api.post(url, "kiosk", json=body, headers=headers)
    assert first.get_json()["id"] == again.get_json()["id"]
    assert first.get_json()["print_job"]["id"] == again.get_json()["print_job"]["id"]
    with app.app_context():
        assert db.session.query(PrintJob).count() == 1


def test_printer_settings_are_checked(api, office):
    kiosk = device_id(office, DeviceKind.KIOSK)
    display = device_id(office, DeviceKind.DISPLAY)
    url = f"sites/{office.slug}/devices"
    bad = api.patch(f"{url}/{kiosk}", "manager", json={"printer": "http://printer"})
    assert bad.status_code == 400
    assert bad.get_json()["error"]["details"]["field"] == "printer"
    options = {"printer_options": {"paper_width_mm": 57}}
    assert api.patch(f"{url}/{kiosk}", "manager", json=options).status_code == 400
    assert api.patch(f"{url}/{display}", "manager", json={"printer": "dummy:"}).status_code == 400
    assert api.patch(f"{url}/{kiosk}", "agent", json={"printer": "dummy:"}).status_code == 403
    created = api.post(
        url,
        "manager",
        json={
            "kind": "kiosk",
            "name": "Borne 2",
            "printer": "usb://04b8:0202",
            "printer_options": {"paper_width_mm": 58, "footer": ["Tél. 33 951 00 00"]},
        },
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["printer"] == "usb://04b8:0202"
    assert created.get_json()["printer_options"]["paper_width_mm"] == 58


def test_staff_read_a_kiosk_printer_status(api, office, printer):
    set_printer(api, office, printer=printer.url)
    kiosk = device_id(office, DeviceKind.KIOSK)
    printer.paper = "out"
    answer = api.get(f"sites/{office.slug}/devices/{kiosk}/printer?refresh=1", "agent").get_json()
    assert answer["via"] == "server"
    assert answer["status"]["online"] is True
    assert answer["status"]["paper"] == "out"
    printer.stop()
    answer = api.get(f"sites/{office.slug}/devices/{kiosk}/printer?refresh=1", "agent").get_json()
    assert answer["status"]["online"] is False


# --- print agents ------------------------------------------------------------------


def test_an_agents_jobs_are_claimed_printed_and_acknowledged_once(app, api, office):
    agent = device_id(office, DeviceKind.PRINTER)
    set_printer(api, office, printer="usb://04b8:0202", print_agent=agent)
    client = socketio.test_client(app, auth={"token": office.tokens["printer"]})
    assert client.is_connected()
    ticket = api.issue("CNI")
    pushed = [m for m in client.get_received() if m["name"] == "print_job"]
    assert pushed == [
        {"name": "print_job", "args": [{"id": ticket["print_job"]["id"]}], "namespace": "/"}
    ]
    client.disconnect()

    assert api.post("print-jobs/claim", "kiosk").status_code == 403
    claimed = api.post("print-jobs/claim", "printer").get_json()
    assert [job["id"] for job in claimed] == [ticket["print_job"]["id"]]
    payload = base64.b64decode(claimed[0]["payload_b64"])
    assert payload.startswith(b"\x1b@\x1bt\x10")
    assert b"B-001" in payload
    assert f"{ticket['code'][:4]}-{ticket['code'][4:]}".encode() in payload
    assert api.post("print-jobs/claim", "printer").get_json() == []  # leased

    job_id = claimed[0]["id"]
    done = api.post(f"print-jobs/{job_id}/done", "printer", json={})
    assert done.get_json()["status"] == "done"
    # Repeated after a lost answer: nothing changes.
    assert api.post(f"print-jobs/{job_id}/done", "printer", json={}).status_code == 200
    assert api.post("print-jobs/claim", "printer").get_json() == []


def test_an_agent_failure_is_retried_later(api, office):
    agent = device_id(office, DeviceKind.PRINTER)
    set_printer(api, office, print_agent=agent)
    job_id = api.issue("CNI")["print_job"]["id"]
    api.post("print-jobs/claim", "printer")
    failed = api.post(
        f"print-jobs/{job_id}/failed",
        "printer",
        json={"error": "USB printer not found", "printer": {"online": False}},
    )
    assert failed.status_code == 200, failed.get_json()
    body = failed.get_json()
    assert body["status"] == "pending"
    assert body["last_error"] == "USB printer not found"
    assert body["printer_status"]["online"] is False
    claimed = wait_until(lambda: api.post("print-jobs/claim", "printer").get_json())
    assert [job["id"] for job in claimed] == [job_id]
    assert claimed[0]["attempts"] == 2


def test_a_lease_that_runs_out_hands_the_job_out_again(app, api, office):
    app.config["PRINT_LEASE_SECONDS"] = 0
    agent = device_id(office, DeviceKind.PRINTER)
    set_printer(api, office, print_agent=agent)
    job_id = api.issue("CNI")["print_job"]["id"]
    assert [j["id"] for j in api.post("print-jobs/claim", "printer").get_json()] == [job_id]
    # The agent died without answering: the job is due again.
    assert [j["id"] for j in api.post("print-jobs/claim", "printer").get_json()] == [job_id]


def test_a_kiosk_reads_only_its_own_jobs(app, api, office, make_office):
    set_printer(api, office, printer="dummy:own")
    job_id = api.issue("CNI")["print_job"]["id"]
    other = make_office(app, slug="dakar")
    other_api = Api(app, other)
    assert other_api.get(f"print-jobs/{job_id}", "kiosk").status_code == 403
    assert api.get(f"print-jobs/{job_id}", "display").status_code == 403
    assert api.get(f"print-jobs/{job_id}", "manager").status_code == 200


# --- the agent console ---------------------------------------------------------------


def test_an_agent_reprints_a_lost_ticket_from_the_console(app, api, office, printer):
    from .test_agent_console import Agent, forms_of, text_of

    set_printer(api, office, printer=printer.url)
    api.issue("CNI")
    api.issue("CNI")
    assert printer.wait_for(2)
    agent = Agent(app.test_client(), office)
    agent.sign_in()
    agent.open_counter("Guichet 2")
    agent.submit("/next")
    assert agent.ticket_label == "B-001"
    # The citizen at the counter lost the ticket: one button.
    agent.submit("/reprint", ticket_id=agent.form("/reprint").fields["ticket_id"])
    assert "Réimpression envoyée à l'imprimante de la borne : B-001." in agent.text
    assert printer.wait_for(3)
    assert b"DUPLICATA" in printer.prints[2]
    assert b"B-001" in printer.prints[2]
    # Another citizen, still waiting, says their number ("b2" is B-002).
    reprint_forms = [
        form
        for form in forms_of(agent.html)
        if form.action.endswith("/reprint") and "ticket_id" not in form.fields
    ]
    assert reprint_forms
    agent.client.post(reprint_forms[0].action, data={**reprint_forms[0].fields, "label": "b2"})
    assert printer.wait_for(4)
    assert b"B-002" in printer.prints[3]
    response = agent.client.post(
        reprint_forms[0].action,
        data={**reprint_forms[0].fields, "label": "Z-999"},
        follow_redirects=True,
    )
    assert "Aucun ticket Z-999 aujourd'hui." in text_of(response.get_data(as_text=True))
