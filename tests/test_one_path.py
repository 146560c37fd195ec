"""The two busiest operations, a kiosk's ticket and an agent's call, by their one path: the
documented views, their one serializer, the same statements on both databases, and what a
newcomer is told follows every change of the queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from queue_app.extensions import db
from queue_app.models import (
    Device,
    DeviceKind,
    EventKind,
    Site,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
)
from queue_app.printing.devices import configure_printer
from queue_app.queue.day_close import close_day
from queue_app.queue.days import service_day
from queue_app.queue.estimates import waiting_counts

from .conftest import Api, build_office, count_statements


def _waiting(app, service_id: int, *, priority_only: bool = False) -> int:
    with app.app_context():
        query = select(func.count(Ticket.id)).where(
            Ticket.service_id == service_id, Ticket.status == TicketStatus.WAITING
        )
        if priority_only:
            query = query.where(Ticket.priority_rank == 0)
        count = db.session.scalar(query)
        db.session.rollback()
        return int(count or 0)


def _shown_counts(app, office) -> dict[str, int]:
    with app.app_context():
        site = db.session.get(Site, office.site.id)
        counts = waiting_counts(db.session, site, service_day(site, datetime.now(UTC)))
        db.session.rollback()
        return counts


def test_a_kiosk_ticket_answers_as_the_documented_operation_does(any_app):
    office = build_office(any_app)
    api = Api(any_app, office)
    staff = api.issue("CNI", as_="manager")
    kiosk = api.issue("CNI")
    # Everything a ticket's answer says, as GET /tickets/<id> says it, plus its print job.
    read = api.get(f"tickets/{kiosk['id']}", "manager").get_json()
    assert {key: value for key, value in kiosk.items() if key != "print_job"} == read
    assert kiosk["print_job"] is None
    assert set(kiosk) == set(staff) | {"print_job"}
    assert (kiosk["label"], kiosk["number"], kiosk["position"]) == ("B-002", 2, 1)
    assert kiosk["service_name"] == "Carte nationale d'identité"
    assert (kiosk["status"], kiosk["source"]) == ("waiting", "kiosk")
    assert kiosk["track_url"] == f"http://testserver/t/{kiosk['code']}"
    # The estimate given is the one the event log keeps (the dashboard compares it).
    assert kiosk["estimated_wait_minutes"] > 0
    with any_app.app_context():
        data = db.session.scalar(
            select(TicketEvent.data).where(
                TicketEvent.ticket_id == kiosk["id"], TicketEvent.kind == EventKind.ISSUED
            )
        )
        db.session.rollback()
    assert data == {"number": 2, "estimate": kiosk["estimated_wait_minutes"]}
    # A priority ticket goes before the two normal ones.
    priority = api.issue("CNI", priority=True)
    assert (priority["priority"], priority["position"]) == (True, 0)


def test_a_kiosk_ticket_costs_the_statements_of_the_issue_and_nothing_more(any_app):
    office = build_office(any_app)
    api = Api(any_app, office)
    api.issue("CNI")  # the kiosk, site, service and learned times are then cached
    with count_statements(any_app) as statements:
        api.issue("CNI")
    # The same on both databases: the number, the ticket, the people ahead (read
    # after the number was taken), the event.
    assert len(statements) == 4, statements
    assert statements[0].startswith("INSERT INTO ticket_sequences")
    assert not any("api_tokens" in s or "FROM services" in s for s in statements)


def test_a_printing_kiosk_takes_the_same_path_and_one_insert_more(any_app):
    office = build_office(any_app)
    api = Api(any_app, office)
    with any_app.app_context():
        kiosk = db.session.scalar(
            select(Device).where(Device.site_id == office.site.id, Device.kind == DeviceKind.KIOSK)
        )
        configure_printer(db.session, kiosk, {"printer": "dummy:"})
        db.session.commit()
    api.issue("CNI")
    with count_statements(any_app) as statements:
        ticket = api.issue("CNI")
    # The print job is written with the ticket (as durable as it), its paper laid
    # out later, when a printer takes it: no rendering under the number's lock.
    assert len(statements) == 5, statements
    assert statements[-1].startswith("INSERT INTO print_jobs")
    assert ticket["print_job"]["status"] == "pending"


def test_bad_requests_get_the_documented_answers(any_app):
    office = build_office(any_app)
    api = Api(any_app, office)
    path = f"sites/{office.slug}/tickets"
    # An unknown field, a number for a service, a service of no such code: the schema's errors.
    unknown = api.post(path, "kiosk", json={"service": "CNI", "colour": "red"})
    assert unknown.status_code == 400
    assert "colour" in unknown.get_json()["error"]["details"]["json"]
    assert api.post(path, "kiosk", json={"service": 7}).status_code == 400
    assert api.post(path, "kiosk", json={"service": "NOPE"}).get_json()["error"]["code"] == (
        "not_found"
    )
    assert api.post(path, "kiosk", json={"service": "CNI", "priority": "yes"}).status_code == 400
    # Without credentials, or with a display's token: refused before anything is looked up.
    assert api.post(path, None, json={"service": "CNI"}).status_code == 401
    assert api.post(path, "display", json={"service": "CNI"}).status_code == 403
    # A phone number is normalised by the documented operation.
    with_phone = api.issue("CNI", phone="77 123 45 67")
    assert with_phone["number"] == 1
    # A replayed key answers the first ticket, marked as such.
    headers = {"Idempotency-Key": "tap-1"}
    first = api.post(path, "kiosk", json={"service": "CNI"}, headers=headers)
    again = api.post(path, "kiosk", json={"service": "CNI"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    # A revoked kiosk is refused at once (the cache is dropped on commit).
    with any_app.app_context():
        kiosk = db.session.scalar(
            select(Device).where(Device.site_id == office.site.id, Device.kind == DeviceKind.KIOSK)
        )
        kiosk.revoked_at = datetime.now(UTC)
        db.session.commit()
    assert api.post(path, "kiosk", json={"service": "CNI"}).status_code == 401


def test_people_ahead_of_a_newcomer_follow_every_change_of_the_queue(any_app):
    office = build_office(any_app)
    api = Api(any_app, office)
    cni = office.services["CNI"].id

    def newcomer(priority: bool = False) -> dict:
        ticket = api.issue("CNI", priority=priority)
        # What the ticket says is what the queue holds (it is now in it: minus itself).
        expected = _waiting(any_app, cni, priority_only=priority) - 1
        assert ticket["position"] == expected, (ticket, expected)
        # And the waiting counts that displays and agents are shown.
        assert _shown_counts(any_app, office) == {
            "CNI": _waiting(any_app, cni),
            "CASIER": _waiting(any_app, office.services["CASIER"].id),
        }
        return ticket

    tickets = [newcomer() for _ in range(4)]
    newcomer(priority=True)
    api.open_counter("g2")
    assert api.call_next("g2").status_code == 200  # the priority ticket leaves the queue
    assert api.post(f"tickets/{tickets[0]['id']}/cancel", "agent").status_code == 200
    moved = api.post(f"tickets/{tickets[1]['id']}/transfer", "agent", json={"service": "CASIER"})
    assert moved.status_code == 200
    assert newcomer()["position"] == 2
    assert api.call_next("g2").status_code == 200  # finishes the one called, calls the next
    # Sent back to CNI: waiting there again.
    back = api.post(f"tickets/{tickets[1]['id']}/transfer", "agent", json={"service": "CNI"})
    assert back.status_code == 200
    assert newcomer()["position"] == 3
    assert newcomer(priority=True)["position"] == 0
    # The day closes: nobody waits any more; the next day starts from an empty queue.
    with any_app.app_context():
        site = db.session.get(Site, office.site.id)
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        assert close_day(db.session, site, grace=timedelta(0), now=tomorrow) > 0
        db.session.commit()
    assert _waiting(any_app, cni) == 0
    assert _shown_counts(any_app, office) == {"CNI": 0, "CASIER": 0}
    assert newcomer()["position"] == 0


def test_deleted_tickets_leave_the_counts(any_app):
    """Retention deletes old tickets: a waiting one deleted no longer counts."""
    office = build_office(any_app)
    api = Api(any_app, office)
    first = api.issue("CNI")
    with any_app.app_context():
        db.session.execute(delete(Ticket).where(Ticket.id == first["id"]))
        db.session.commit()
    assert api.issue("CNI")["position"] == 0


def test_an_agents_call_answers_as_the_documented_operation_does(any_app):
    office = build_office(any_app)
    api = Api(any_app, office)
    first = api.issue("CNI")
    second = api.issue("CASIER")
    api.open_counter("g1")
    called = api.call_next("g1")
    assert called.status_code == 200
    answer = called.get_json()
    # Everything GET /tickets/<id> says of the ticket called, written the same, byte for byte.
    assert called.data == api.get(f"tickets/{first['id']}", "agent").data
    counter = office.counters["g1"]
    assert answer["counter"] == {"id": counter.id, "name": "Guichet 1"}
    assert (answer["label"], answer["status"], answer["service"]) == ("B-001", "called", "CNI")
    assert answer["service_name"] == "Carte nationale d'identité"
    assert answer["called_at"] is not None
    # The next call finishes it first, and calls the other service's ticket.
    again = api.call_next("g1").get_json()
    assert (again["id"], again["status"]) == (second["id"], "called")
    done = api.get(f"tickets/{first['id']}", "agent").get_json()
    assert (done["status"], done["finished_at"] is not None) == ("done", True)
    # Then nothing waits: 204, and the ticket in progress is finished all the same.
    empty = api.call_next("g1")
    assert (empty.status_code, empty.data) == (204, b"")
    assert api.get(f"tickets/{second['id']}", "agent").get_json()["status"] == "done"
    with any_app.app_context():
        kinds = db.session.scalars(
            select(TicketEvent.kind)
            .where(TicketEvent.ticket_id == first["id"])
            .order_by(TicketEvent.id)
        ).all()
        db.session.rollback()
    assert [kind.value for kind in kinds] == ["issued", "called", "finished"]


def test_an_agents_call_costs_the_statements_of_the_call_and_nothing_more(any_app):
    office = build_office(any_app)
    api = Api(any_app, office)
    for _ in range(3):
        api.issue("CNI")
    api.open_counter("g2")
    api.call_next("g2")  # the token, site, service and counter's services are then cached
    with count_statements(any_app) as statements:
        assert api.call_next("g2").status_code == 200
    # The same on both databases: the counter locked; the ticket in progress finished,
    # then logged; the queue heads; the chosen head called, then logged.
    assert len(statements) == 6, statements
    assert "FROM counters" in statements[0]
    assert not any("UPDATE services" in s for s in statements)
    assert not any("api_tokens" in s or "counter_services" in s for s in statements)


def test_bad_calls_get_the_documented_answers(any_app):
    office = build_office(any_app)
    api = Api(any_app, office)
    api.issue("CNI")
    g1, g2 = office.counters["g1"].id, office.counters["g2"].id
    # Not this agent's: 403; paused: 422; no such counter: 404; no credentials: 401;
    # a kiosk: 403.
    assert api.call_next("g1").status_code == 403
    api.open_counter("g1")
    assert api.post(f"counters/{g1}/pause", "agent", json={"reason": "break"}).status_code == 200
    paused = api.call_next("g1")
    assert (paused.status_code, paused.get_json()["error"]["code"]) == (422, "counter_not_open")
    assert api.post("counters/999999/call-next", "agent").status_code == 404
    assert api.post(f"counters/{g1}/call-next", None).status_code == 401
    assert api.post(f"counters/{g1}/call-next", "kiosk").status_code == 403
    api.open_counter("g1")
    # Another agent may not call at this agent's counter.
    other = api.call_next("g1", as_="agent2")
    assert other.status_code == 403
    assert other.get_json()["error"]["details"]["reason"] == "not_your_counter"
    # A manager of the site may.
    assert api.call_next("g1", as_="manager").get_json()["label"] == "B-001"
    # A deactivated agent is refused at once (the cache is dropped on commit).
    api.issue("CNI")
    api.open_counter("g2", as_="agent2")
    with any_app.app_context():
        agent2 = db.session.get(User, office.users["agent2"].id)
        agent2.is_active = False
        db.session.commit()
    assert api.post(f"counters/{g2}/call-next", "agent2").status_code == 401
