"""Retention: personal data goes after its period, the anonymous statistics stay the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from queue_app.extensions import db
from queue_app.jobs import retention
from queue_app.jobs.scheduler import JOBS
from queue_app.models import Complaint, Feedback, Ticket
from queue_app.quality.retention import holds_personal_data, redact

from .conftest import Api

DAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _a_day(app, office):
    """Tickets with phones, ratings with and without personal data, two complaints."""
    api = Api(app, office)
    comments = [
        "Très bien, rappelez-moi au 77 123 45 67",
        "Agent très aimable.",
        "Écrivez-moi : awa.diallo@example.sn",
        None,
    ]
    with time_machine.travel(DAY, tick=False):
        api.open_counter("g1")
        for index, comment in enumerate(comments):
            ticket = api.issue("CNI", phone=f"+22177123456{index}")
            api.call_next("g1")
            api.post(f"tickets/{ticket['id']}/finish", "agent")
            body = {"rating": 5 - index}
            if comment:
                body["comment"] = comment
            assert api.post(f"track/{ticket['code']}/feedback", json=body).status_code == 201
        for name, phone in (("Awa Diallo", "771234567"), (None, None)):
            body = {"text": "Awa Diallo a attendu deux heures, joignable au +221 77 123 45 67."}
            if name:
                body |= {"name": name, "phone": phone}
            assert api.post("sites/thies/complaints", json=body).status_code == 201
    return api


def _stats(api):
    response = api.get("sites/thies/stats?from=2026-03-02&to=2026-03-02", "manager")
    assert response.status_code == 200
    return response.get_json()


def test_the_purge_keeps_counts_and_removes_phone_numbers(app, office):
    api = _a_day(app, office)
    before = _stats(api)
    assert before["totals"]["satisfaction"]["count"] == 4

    # Twenty days on: nothing is due yet.
    with time_machine.travel(DAY + timedelta(days=20), tick=False), app.app_context():
        retention.run()
        retention.run_quality()
        assert db.session.scalar(select(Complaint.phone).where(Complaint.name.is_not(None)))
        assert db.session.scalars(select(Ticket.phone)).all().count(None) == 0

    with time_machine.travel(DAY + timedelta(days=200), tick=False), app.app_context():
        assert retention.run() == 4  # ticket phones (RETENTION_DAYS = 30)
        assert retention.run_quality() == 6  # four ratings and two complaints looked at
        assert db.session.scalars(select(Ticket.phone)).all() == [None] * 4
        comments = db.session.scalars(select(Feedback.comment).order_by(Feedback.id)).all()
        assert comments == [None, "Agent très aimable.", None, None]
        assert all(f.purged_at for f in db.session.scalars(select(Feedback)))
        named, anonymous = db.session.scalars(select(Complaint).order_by(Complaint.id)).all()
        for complaint in (named, anonymous):
            assert complaint.phone is None
            assert complaint.name is None
            assert "77 123" not in complaint.text
            assert "attendu deux heures" in complaint.text  # the substance stays
        # The name the citizen gave is taken out of the text too.
        assert "Awa" not in named.text
        # A second run has nothing left to do.
        assert retention.run_quality() == 0

    after = _stats(api)
    assert after == before


def test_the_purge_is_a_scheduled_job_of_its_own():
    names = {name for name, _job, _interval in JOBS}
    assert {"retention", "retention_quality"} <= names


def test_what_counts_as_personal_data():
    assert holds_personal_data("appelez le 77 123 45 67")
    assert holds_personal_data("+221771234567")
    assert holds_personal_data("awa@example.sn")
    assert not holds_personal_data("Attente de 45 minutes au guichet 3, le 12/03.")
    assert not holds_personal_data(None)
    assert redact("Moussa Ndiaye au 00221 77 123 45 67", "Moussa Ndiaye") == "[…] au […]"
