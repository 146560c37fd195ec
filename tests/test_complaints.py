"""The complaints and suggestions register: filed in public, answered by staff before a deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from queue_app.extensions import db
from queue_app.models import Complaint
from queue_app.quality import complaints as domain

from .conftest import Api, build_office
from .quality_helpers import post_form, sign_in

FILED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TEXT = "Deux heures d'attente pour un simple retrait, sans explication."


def file(api, **body):
    response = api.post("sites/thies/complaints", json={"text": TEXT, **body})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_citizen_files_a_complaint_and_gets_a_reference(app, api):
    with time_machine.travel(FILED, tick=False):
        receipt = file(
            api, kind="complaint", phone="77 123 45 67", name="Awa Diallo", service="CNI"
        )
    assert receipt["reference"].startswith("R")
    assert len(receipt["reference"]) == 8
    assert receipt["due_at"] == "2026-12-16T09:00:00Z"  # COMPLAINT_ANSWER_DAYS = 15
    assert receipt["status_url"].endswith(f"/r/{receipt['reference']}")
    with app.app_context():
        complaint = db.session.scalar(select(Complaint))
        assert complaint.phone == "+221771234567"
        assert complaint.status.value == "open"
        assert complaint.site_id is not None


@pytest.mark.parametrize(
    "body",
    [
        {"text": "trop court"[:8]},
        {"text": TEXT, "phone": "12"},
        {"text": TEXT, "kind": "insult"},
        {"text": TEXT, "service": "NOPE"},
        {"text": "a\x07" + TEXT},
        {"text": TEXT, "unknown": True},
    ],
)
def test_bad_complaints_are_refused_clearly(api, body):
    response = api.post("sites/thies/complaints", json=body)
    assert response.status_code in (400, 404)
    assert "error" in response.get_json()


def test_an_unknown_office_is_404(api):
    assert api.post("sites/nope/complaints", json={"text": TEXT}).status_code == 404


@pytest.mark.parametrize(
    "app_config", [{"RATELIMIT_ENABLED": True, "RATELIMIT_COMPLAINTS": "2 per hour"}]
)
def test_the_public_form_and_api_are_rate_limited(api, client, app_config):
    assert api.post("sites/thies/complaints", json={"text": TEXT}).status_code == 201
    assert api.post("sites/thies/complaints", json={"text": TEXT}).status_code == 201
    limited = api.post("sites/thies/complaints", json={"text": TEXT})
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == "too_many_requests"


def test_the_public_form_files_with_csrf_and_no_sign_in(app, client, office):
    page = client.get("/sites/thies/complaints")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Réclamations et suggestions" in html
    assert "Carte nationale d&#39;identité" in html
    done = post_form(
        client,
        "/sites/thies/complaints",
        {"kind": "suggestion", "text": TEXT, "phone": "+221 77 123 45 67", "service": ""},
    )
    assert done.status_code == 200
    with app.app_context():
        complaint = db.session.scalar(select(Complaint))
        assert complaint.kind.value == "suggestion"
    assert complaint.reference in done.get_data(as_text=True)
    # Without the form's token nothing is filed.
    forged = client.post("/sites/thies/complaints", data={"kind": "complaint", "text": TEXT})
    assert forged.status_code == 400
    # A bad phone number is explained next to the field.
    bad = post_form(
        client, "/sites/thies/complaints", {"kind": "complaint", "text": TEXT, "phone": "12"}
    )
    assert bad.status_code == 400
    assert "Valeur invalide pour phone" in bad.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Complaint).count() == 1


def test_staff_assign_answer_and_close(app, api, office):
    reference = file(api, phone="771234567")["reference"]
    listed = api.get("sites/thies/complaints", "manager").get_json()
    assert [c["reference"] for c in listed] == [reference]
    assert api.get("sites/thies/complaints", "agent").status_code == 403
    assert api.get("sites/thies/complaints").status_code == 401
    # Assign to a manager of the office; an agent is not one who answers complaints.
    to_agent = api.post(
        f"complaints/{reference}/assign", "manager", json={"user": office.users["agent"].email}
    )
    assert to_agent.status_code == 400
    assigned = api.post(
        f"complaints/{reference}/assign", "admin", json={"user": office.users["manager"].email}
    ).get_json()
    assert (assigned["status"], assigned["assigned_to"]) == (
        "assigned",
        office.users["manager"].email,
    )
    answered = api.post(
        f"complaints/{reference}/answer",
        "manager",
        json={"answer": "Un agent de plus est affecté le matin.", "send_sms": True},
    ).get_json()
    assert answered["status"] == "answered"
    assert answered["answer_by_sms"] is True
    # The answer goes to the citizen's phone through the SMS outbox, once.
    assert answered["answer_sms_queued_at"] is not None
    with app.app_context():
        from sqlalchemy import select

        from queue_app.extensions import db
        from queue_app.models import OutboundMessage

        sent = db.session.scalars(
            select(OutboundMessage).where(OutboundMessage.kind == "complaint_answer")
        ).all()
    assert [(m.to_phone, m.body) for m in sent] == [
        ("+221771234567", f"{reference} : Un agent de plus est affecté le matin.")
    ]
    closed = api.post(f"complaints/{reference}/close", "manager").get_json()
    assert closed["status"] == "closed"
    refused = api.post(
        f"complaints/{reference}/answer", "manager", json={"answer": "Encore ?", "send_sms": False}
    )
    assert refused.status_code == 422
    assert api.post(f"complaints/{reference}/reopen", "manager").get_json()["status"] == "answered"


def test_no_sms_without_a_phone(api):
    reference = file(api)["reference"]
    response = api.post(
        f"complaints/{reference}/answer", "manager", json={"answer": "Merci.", "send_sms": True}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["details"]["field"] == "send_sms"


def test_a_manager_of_another_office_cannot_see_or_answer(app, api):
    dakar = Api(app, build_office(app, slug="dakar"))
    reference = file(api)["reference"]
    assert dakar.get(f"complaints/{reference}", "manager").status_code == 403
    assert dakar.post(f"complaints/{reference}/close", "manager").status_code == 403
    assert dakar.get("sites/thies/complaints", "manager").status_code == 403


def test_overdue_complaints_are_listed_and_highlighted(app, api, office):
    with time_machine.travel(FILED, tick=False):
        late = file(api)["reference"]
    with time_machine.travel(FILED + timedelta(days=10), tick=False):
        fresh = file(api)["reference"]
    with time_machine.travel(FILED + timedelta(days=16), tick=False):
        overdue = api.get("sites/thies/complaints?status=overdue", "manager").get_json()
        assert [c["reference"] for c in overdue] == [late]
        assert overdue[0]["overdue"] is True
        client = app.test_client()
        sign_in(client, office.users["manager"].email)
        html = client.get("/admin/complaints").get_data(as_text=True)
        row = html[html.index(late) - 400 : html.index(late)]
        assert 'class="overdue"' in row
        assert fresh in html
        assert "En retard" in html
        badge = client.get("/admin/").get_data(as_text=True)
        assert "1 en retard" in badge


def test_the_public_status_page_shows_the_answer_but_no_personal_data(app, api, client):
    reference = file(api, phone="771234567", name="Awa Diallo")["reference"]
    waiting = client.get(f"/r/{reference}").get_data(as_text=True)
    assert "en cours de traitement" in waiting
    api.post(
        f"complaints/{reference}/answer",
        "manager",
        json={"answer": "Nous avons renforcé le guichet 2.", "send_sms": False},
    )
    page = client.get(f"/r/{reference.lower()}").get_data(as_text=True)
    assert "Nous avons renforcé le guichet 2." in page
    assert "Awa" not in page
    # Nor the phone number, however written ("77" alone may be in a nonce or a date).
    assert not any(form in page for form in ("1234567", "123 45 67", "12 34 567"))
    assert client.get("/r/RNOPE123").status_code == 404


def test_the_answer_sms_is_one_segment():
    complaint = Complaint(reference="R7K3F9Q2", answer="Merci, c'est corrigé.")
    assert domain.answer_sms_body(complaint, "https://guichet.sn") == (
        "R7K3F9Q2 : Merci, c'est corrigé."
    )
    complaint.answer = "Nous prenons note de votre remarque " * 10
    body = domain.answer_sms_body(complaint, "https://guichet.sn")
    assert body.endswith("https://guichet.sn/r/R7K3F9Q2")
    assert domain.fits_one_sms(body)
    assert not domain.fits_one_sms("ê" * 71)
    assert domain.fits_one_sms("é" * 160)
