"""GET /metrics: the office's figures in Prometheus's text format, for the machine or a token."""

from __future__ import annotations

import re

import pytest
import time_machine

from queue_app.extensions import db
from queue_app.models import Device, utcnow
from tests.conftest import Api, build_office

SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    """{(name, labels): value} of an exposition; fails on a line that is not the format."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            assert line.startswith(("# HELP ", "# TYPE ")) or not line, line
            continue
        match = SAMPLE.match(line)
        assert match, line
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', match["labels"] or ""))
        samples[(match["name"], labels)] = float(match["value"])
    return samples


def value(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
def office_api(any_app):
    office = build_office(any_app)
    return office, Api(any_app, office)


def test_metrics_count_the_day_of_an_office(office_api):
    office, api = office_api
    with time_machine.travel(utcnow().replace(hour=10, minute=0), tick=False) as clock:
        for _ in range(3):
            api.issue("CNI")
        api.issue("CASIER", phone="+221771234567")
        api.open_counter("g2")
        clock.shift(600)  # ten minutes later, the first CNI is called
        assert api.call_next("g2").status_code == 200
        response = api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    body = response.get_data(as_text=True)
    samples = parse(body)
    site = office.slug
    assert value(samples, "guichet_tickets_issued_total", site=site, service="CNI") == 3
    assert value(samples, "guichet_tickets_issued_total", site=site, service="CASIER") == 1
    assert value(samples, "guichet_tickets_called_total", site=site, service="CNI") == 1
    assert value(samples, "guichet_tickets_called_total", site=site, service="CASIER") == 0
    assert value(samples, "guichet_waiting_tickets", site=site, service="CNI") == 2
    assert value(samples, "guichet_waiting_tickets", site=site, service="CASIER") == 1
    # The call came after 600 s: in the 600 s bucket and above, not in the 300 s one.
    cni = {"site": site, "service": "CNI"}
    assert value(samples, "guichet_wait_seconds_bucket", **cni, le="300") == 0
    assert value(samples, "guichet_wait_seconds_bucket", **cni, le="600") == 1
    assert value(samples, "guichet_wait_seconds_bucket", **cni, le="+Inf") == 1
    assert value(samples, "guichet_wait_seconds_count", **cni) == 1
    assert value(samples, "guichet_wait_seconds_sum", **cni) == pytest.approx(600, abs=1)
    assert value(samples, "guichet_devices_online", site=site, kind="display") == 0
    assert value(samples, "guichet_print_jobs_pending", site=site) == 0
    assert value(samples, "guichet_sms_outbox_pending") >= 0
    # No personal data: the phone, the ticket codes or the users' e-mails are nowhere.
    assert "771234567" not in body
    assert "@" not in body
    for family in (
        "guichet_tickets_issued_total counter",
        "guichet_waiting_tickets gauge",
        "guichet_wait_seconds histogram",
        "guichet_alerts_open gauge",
    ):
        assert f"# TYPE {family}" in body


def test_counters_restart_with_the_sites_day(office_api):
    office, api = office_api
    with time_machine.travel(utcnow().replace(hour=10, minute=0), tick=False) as clock:
        api.issue("CNI")
        clock.shift(24 * 3600)
        samples = parse(api.client.get("/metrics").get_data(as_text=True))
    labels = {"site": office.slug, "service": "CNI"}
    assert value(samples, "guichet_tickets_issued_total", **labels) == 0
    # Yesterday's ticket still waits (the day-close job did not run): the gauge says so.
    assert value(samples, "guichet_waiting_tickets", **labels) == 1


def test_revoked_and_silent_devices_are_not_online(office_api):
    office, api = office_api
    api.issue("CNI")
    with office.app.app_context():
        for device in db.session.query(Device).all():
            device.last_seen_at = utcnow()
        db.session.query(Device).filter_by(kind="display").one().revoked_at = utcnow()
        db.session.commit()
    samples = parse(api.client.get("/metrics").get_data(as_text=True))
    assert value(samples, "guichet_devices_online", site=office.slug, kind="tablet") == 1
    assert ("guichet_devices_online", frozenset({("site", office.slug), ("kind", "display")})) in (
        samples
    )
    assert value(samples, "guichet_devices_online", site=office.slug, kind="display") == 0


@pytest.fixture
def app_config():
    return {"METRICS_TOKEN": "s3cret-metrics"}


def test_only_the_machine_itself_or_the_token_reads_metrics(app, office):
    client = app.test_client()
    outside = {"REMOTE_ADDR": "10.1.2.3"}
    assert client.get("/metrics").status_code == 200  # 127.0.0.1, directly
    refused = client.get("/metrics", environ_base=outside)
    assert refused.status_code == 401
    assert "guichet_" not in refused.get_data(as_text=True)
    wrong = client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    right = client.get(
        "/metrics", environ_base=outside, headers={"Authorization": "Bearer s3cret-metrics"}
    )
    assert right.status_code == 200
    # Through a reverse proxy on the same machine: the peer is 127.0.0.1, but not the machine.
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "41.82.1.1"})
    assert proxied.status_code == 401


def test_without_a_token_only_the_machine_reads(any_app):
    client = any_app.test_client()
    headers = {"Authorization": "Bearer "}
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "::ffff:10.0.0.2"})
    assert response.status_code == 401
    assert (
        client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": "::1"}).status_code
        == 200
    )


def test_every_process_answers_the_same_figures(office_api, tmp_path):
    """Two apps on one database stand for two gunicorn processes: each reads the tables."""
    from queue_app import create_app
    from tests.conftest import base_config, dispose

    office, api = office_api
    other = create_app(base_config(tmp_path / "other", office.app.config["DATABASE_URL"]))
    try:
        first = other.test_client().get("/metrics").get_data(as_text=True)  # its tally begins
        api.issue("CNI")
        api.issue("CASIER")
        api.open_counter("g1")
        assert api.call_next("g1").status_code == 200
        mine = parse(api.client.get("/metrics").get_data(as_text=True))
        theirs = parse(other.test_client().get("/metrics").get_data(as_text=True))
    finally:
        dispose(other)
    assert value(parse(first), "guichet_tickets_issued_total", site=office.slug, service="CNI") == 0
    assert mine == theirs
    assert value(theirs, "guichet_tickets_issued_total", site=office.slug, service="CNI") == 1
    assert sum(v for (name, _), v in theirs.items() if name == "guichet_tickets_called_total") == 1


@pytest.mark.postgres
def test_an_event_committed_after_a_later_one_is_counted(pg_app):
    """PostgreSQL hands ids out at INSERT: a ticket whose transaction commits last, with the
    lower id, is still counted by a process whose tally already read past it."""
    from sqlalchemy.orm import Session

    from queue_app.models import Service, Site, TicketSource
    from queue_app.queue import SYSTEM, issue_ticket

    office = build_office(pg_app)
    api = Api(pg_app, office)
    client = pg_app.test_client()
    client.get("/metrics")  # the tally begins
    with pg_app.app_context():
        held = Session(db.engine)
        try:
            site = held.get(Site, office.site.id)
            casier = held.get(Service, office.services["CASIER"].id)
            issue_ticket(held, site, casier, actor=SYSTEM, source=TicketSource.KIOSK)
            held.flush()  # its event has its id, not yet visible
            api.issue("CNI")  # a later id, committed first
            seen = parse(client.get("/metrics").get_data(as_text=True))
            held.commit()
        finally:
            held.close()
    after = parse(client.get("/metrics").get_data(as_text=True))
    labels = {"site": office.slug}
    assert value(seen, "guichet_tickets_issued_total", **labels, service="CNI") == 1
    assert value(seen, "guichet_tickets_issued_total", **labels, service="CASIER") == 0
    assert value(after, "guichet_tickets_issued_total", **labels, service="CASIER") == 1
    assert value(after, "guichet_tickets_issued_total", **labels, service="CNI") == 1
