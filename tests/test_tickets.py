"""Domain operations on a session: numbering, the event log, transitions, the call policy."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from queue_app.extensions import db
from queue_app.models import (
    Counter,
    EventKind,
    Service,
    Site,
    Ticket,
    TicketEvent,
    TicketSource,
    TicketStatus,
    User,
)
from queue_app.queue import (
    SYSTEM,
    Actor,
    call_next,
    cancel,
    errors,
    finish,
    issue_ticket,
    mark_no_show,
    open_counter,
    recall,
    start,
    transfer,
)
from queue_app.queue.days import end_of_day, service_day
from queue_app.queue.idempotency import Key
from queue_app.queue.sites import create_counter, create_service, create_site, set_hours
from queue_app.realtime import events

from .conftest import build_office


@pytest.fixture
def office(any_app):
    """The office on SQLite and on PostgreSQL: the two issue paths differ."""
    return build_office(any_app)


@pytest.fixture
def ctx(any_app, office):
    with any_app.app_context():
        yield db.session


def _office(session, slug="thies"):
    site = session.scalar(select(Site).where(Site.slug == slug))
    services = {s.code: s for s in site.services}
    counters = {c.name: c for c in site.counters}
    users = {u.email.split("@")[0]: u for u in session.scalars(select(User))}
    return site, services, counters, users


def issue(session, site, service, **kwargs):
    kwargs.setdefault("actor", SYSTEM)
    kwargs.setdefault("source", TicketSource.KIOSK)
    return issue_ticket(session, site, service, **kwargs).ticket


def event_kinds(session, ticket):
    rows = session.execute(
        select(TicketEvent.kind, TicketEvent.from_status, TicketEvent.to_status)
        .where(TicketEvent.ticket_id == ticket.id)
        .order_by(TicketEvent.id)
    ).all()
    return [(k.value, f.value if f else None, t.value) for k, f, t in rows]


# --- numbering ---------------------------------------------------------------------


def test_numbers_restart_at_the_site_local_midnight_not_utc(any_app):
    """Porto-Novo is UTC+1: 23:30 UTC is already tomorrow there."""
    with any_app.app_context():
        session = db.session
        site = create_site(session, "porto-novo", "Mairie de Porto-Novo", "Africa/Porto-Novo")
        service = create_service(session, site, "EC", names={"fr": "État civil"}, prefix="C")
        session.commit()
        before = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)  # 23:30 local, the 23rd
        after = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # 00:30 local, the 24th
        first = issue(session, site, service, now=before)
        second = issue(session, site, service, now=before + timedelta(minutes=1))
        third = issue(session, site, service, now=after)
        session.commit()
        assert (first.number, second.number, third.number) == (1, 2, 1)
        assert first.service_day == date(2026, 11, 23)
        assert third.service_day == date(2026, 11, 24)
        assert third.label == "C-001"


def test_a_rolled_back_ticket_gives_its_number_back(ctx, office):
    site, services, _, _ = _office(ctx)
    issue(ctx, site, services["CNI"])
    ctx.rollback()
    assert issue(ctx, site, services["CNI"]).number == 1


def test_labels_pad_to_three_digits_and_grow_past_999(ctx, office):
    site, services, _, _ = _office(ctx)
    from queue_app.queue.numbering import format_label

    assert format_label("B", 7) == "B-007"
    assert format_label("B", 1234) == "B-1234"


def test_kiosks_get_no_ticket_after_closing_time_but_staff_may(ctx, office):
    site, services, _, users = _office(ctx)
    set_hours(ctx, site, {"monday": [["08:00", "17:00"]]})
    ctx.commit()
    evening = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)  # Monday 18:00 in Dakar
    with pytest.raises(errors.SiteClosed):
        issue(ctx, site, services["CNI"], now=evening)
    late = issue(
        ctx,
        site,
        services["CNI"],
        now=evening,
        enforce_hours=False,
        actor=Actor(user=users["agent"]),
        source=TicketSource.STAFF,
    )
    assert late.number == 1


def test_an_inactive_service_issues_no_ticket(ctx, office):
    site, services, _, _ = _office(ctx)
    services["CNI"].is_active = False
    with pytest.raises(errors.ServiceInactive):
        issue(ctx, site, services["CNI"])


def test_idempotency_key_replays_and_refuses_another_service(ctx, office):
    site, services, _, _ = _office(ctx)
    key = Key("k-1", b"secret")
    first = issue_ticket(
        ctx, site, services["CNI"], actor=SYSTEM, source=TicketSource.KIOSK, idempotency_key=key
    )
    again = issue_ticket(
        ctx, site, services["CNI"], actor=SYSTEM, source=TicketSource.KIOSK, idempotency_key=key
    )
    assert first.created
    assert not again.created
    assert again.ticket.id == first.ticket.id
    with pytest.raises(errors.IdempotencyKeyMismatch):
        issue_ticket(
            ctx,
            site,
            services["CASIER"],
            actor=SYSTEM,
            source=TicketSource.KIOSK,
            idempotency_key=Key("k-1", b"secret"),
        )


# --- the event log -------------------------------------------------------------------


def test_every_change_is_an_event_with_author_and_counter(ctx, office):
    site, services, counters, users = _office(ctx)
    agent = users["agent"]
    counter = counters["Guichet 2"]
    open_counter(ctx, counter, agent)
    ticket = issue(ctx, site, services["CNI"])
    actor = Actor(user=agent)
    call_next(ctx, counter, actor=actor)
    recall(ctx, ticket, actor=actor)
    start(ctx, ticket, actor=actor)
    finish(ctx, ticket, actor=actor)
    ctx.commit()
    assert event_kinds(ctx, ticket) == [
        ("issued", None, "waiting"),
        ("called", "waiting", "called"),
        ("recalled", "called", "called"),
        ("started", "called", "serving"),
        ("finished", "serving", "done"),
    ]
    rows = ctx.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).all()
    assert all(row.user_id == agent.id for row in rows[1:])
    assert all(row.counter_id == counter.id for row in rows[1:])
    assert all(row.at.tzinfo is not None for row in rows)


def test_events_are_append_only(ctx, office):
    site, services, _, _ = _office(ctx)
    ticket = issue(ctx, site, services["CNI"])
    ctx.commit()
    entry = ctx.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))
    entry.data = {"tampered": True}
    with pytest.raises(RuntimeError, match="append-only"):
        ctx.flush()
    ctx.rollback()
    entry = ctx.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))
    ctx.delete(entry)
    with pytest.raises(RuntimeError, match="append-only"):
        ctx.flush()


@pytest.mark.parametrize(
    ("setup", "operation"),
    [
        ("waiting", recall),
        ("waiting", start),
        ("waiting", finish),
        ("waiting", mark_no_show),
        ("done", cancel),
        ("done", recall),
        ("serving", mark_no_show),
        ("serving", recall),
        ("no_show", start),
    ],
)
def test_refused_transitions_change_nothing(ctx, office, setup, operation):
    site, services, counters, users = _office(ctx)
    actor = Actor(user=users["agent"])
    open_counter(ctx, counters["Guichet 2"], users["agent"])
    ticket = issue(ctx, site, services["CNI"])
    if setup != "waiting":
        call_next(ctx, counters["Guichet 2"], actor=actor)
        if setup in ("serving", "done"):
            start(ctx, ticket, actor=actor)
        if setup == "done":
            finish(ctx, ticket, actor=actor)
        if setup == "no_show":
            mark_no_show(ctx, ticket, actor=actor)
    ctx.commit()
    before = event_kinds(ctx, ticket)
    with pytest.raises(errors.InvalidTransition):
        operation(ctx, ticket, actor=actor)
    ctx.rollback()
    assert ctx.get(Ticket, ticket.id).status.value == setup
    assert event_kinds(ctx, ticket) == before


def test_transfer_keeps_label_number_and_arrival_and_logs_both_services(ctx, office):
    site, services, counters, users = _office(ctx)
    actor = Actor(user=users["agent"])
    open_counter(ctx, counters["Guichet 2"], users["agent"])
    # Half an hour ago, or at the start of the site's day when the day began since.
    now = datetime.now(UTC)
    early_at = max(
        now - timedelta(minutes=30), end_of_day(site, service_day(site, now) - timedelta(days=1))
    )
    early = issue(ctx, site, services["CNI"], now=early_at)
    casier_waiting = issue(ctx, site, services["CASIER"])
    call_next(ctx, counters["Guichet 2"], actor=actor)
    transfer(ctx, early, services["CASIER"], actor=actor)
    ctx.commit()
    assert (early.label, early.number, early.status) == ("B-001", 1, TicketStatus.WAITING)
    assert early.service_id == services["CASIER"].id
    assert early.issued_service_id == services["CNI"].id
    assert early.counter_id is None
    moved = ctx.scalar(
        select(TicketEvent).where(
            TicketEvent.ticket_id == early.id, TicketEvent.kind == EventKind.TRANSFERRED
        )
    )
    assert moved.data["from_service"] == "CNI"
    assert moved.data["to_service"] == "CASIER"
    # The counter the citizen left is on the event (per-counter statistics).
    assert moved.counter_id == counters["Guichet 2"].id
    # Arrived 30 minutes earlier: first in the new queue, ahead of A-001.
    open_counter(ctx, counters["Guichet 3"], users["agent2"])
    called = call_next(ctx, counters["Guichet 3"], actor=Actor(user=users["agent2"]))
    assert called.id == early.id
    assert casier_waiting.status == TicketStatus.WAITING


# --- calling -----------------------------------------------------------------------------


def test_call_next_needs_an_open_counter(ctx, office):
    site, services, counters, users = _office(ctx)
    issue(ctx, site, services["CNI"])
    with pytest.raises(errors.CounterNotOpen):
        call_next(ctx, counters["Guichet 2"], actor=Actor(user=users["agent"]))


def test_call_next_only_looks_at_the_counters_services(ctx, office):
    site, services, counters, users = _office(ctx)
    open_counter(ctx, counters["Guichet 3"], users["agent"])  # serves CASIER only
    issue(ctx, site, services["CNI"])
    assert call_next(ctx, counters["Guichet 3"], actor=Actor(user=users["agent"])) is None


def test_call_next_ignores_tickets_of_earlier_days(ctx, office):
    site, services, counters, users = _office(ctx)
    open_counter(ctx, counters["Guichet 2"], users["agent"])
    issue(ctx, site, services["CNI"], now=datetime.now(UTC) - timedelta(days=1))
    assert call_next(ctx, counters["Guichet 2"], actor=Actor(user=users["agent"])) is None


def test_counter_serving_two_services_follows_weights_and_priority(ctx, office):
    site, services, counters, users = _office(ctx)
    counter = create_counter(
        ctx, site, "Guichet 9", [(services["CASIER"], 3), (services["CNI"], 1)]
    )
    open_counter(ctx, counter, users["agent"])
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # all on one business day
    cni = issue(ctx, site, services["CNI"], now=now - timedelta(minutes=10))
    casier = issue(ctx, site, services["CASIER"], now=now - timedelta(minutes=5))
    actor = Actor(user=users["agent"])
    # 5 minutes × weight 3 beat 10 minutes × weight 1.
    assert call_next(ctx, counter, actor=actor, now=now).id == casier.id
    priority = issue(ctx, site, services["CNI"], now=now, priority=True)
    assert call_next(ctx, counter, actor=actor, now=now).id == priority.id
    assert call_next(ctx, counter, actor=actor, now=now).id == cni.id


def test_call_next_finishes_the_ticket_in_progress_and_logs_it(ctx, office):
    site, services, counters, users = _office(ctx)
    counter = counters["Guichet 2"]
    open_counter(ctx, counter, users["agent"])
    actor = Actor(user=users["agent"])
    cni = services["CNI"]
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # both calls on one day, whatever the hour
    first = issue(ctx, site, cni, now=t0)
    second = issue(ctx, site, cni, now=t0)
    call_next(ctx, counter, actor=actor, now=t0)
    start(ctx, first, actor=actor, now=t0)
    called = call_next(ctx, counter, actor=actor, now=t0 + timedelta(minutes=18))
    assert called.id == second.id
    assert first.status == TicketStatus.DONE
    assert first.finished_at == t0 + timedelta(minutes=18)
    finished = ctx.scalars(
        select(TicketEvent).where(
            TicketEvent.ticket_id == first.id, TicketEvent.kind == EventKind.FINISHED
        )
    ).one()
    # It was being served: the log says so, and where and by whom it ended.
    assert finished.from_status == TicketStatus.SERVING
    assert (finished.counter_id, finished.user_id) == (counter.id, users["agent"].id)
    # Nothing is learned in the call's transaction (no row every call of a
    # service would lock): the estimates learn service times from this log.
    assert cni.avg_service_seconds == 480


def test_an_agent_holds_one_counter_and_cannot_take_anothers(ctx, office):
    _, _, counters, users = _office(ctx)
    open_counter(ctx, counters["Guichet 1"], users["agent"])
    with pytest.raises(errors.CounterTaken):
        open_counter(ctx, counters["Guichet 1"], users["agent2"])
    open_counter(ctx, counters["Guichet 2"], users["agent"])
    ctx.commit()
    refreshed = {c.name: c for c in ctx.scalars(select(Counter))}
    assert refreshed["Guichet 1"].agent_id is None
    assert refreshed["Guichet 2"].agent_id == users["agent"].id


# --- realtime events are queued in the transaction ---------------------------------


def test_a_call_queues_its_events_until_commit(ctx, office):
    site, services, counters, users = _office(ctx)
    open_counter(ctx, counters["Guichet 2"], users["agent"])
    ticket = issue(ctx, site, services["CNI"], phone="+221771234567")
    ctx.commit()
    call_next(ctx, counters["Guichet 2"], actor=Actor(user=users["agent"]))
    queued = events.pending_events(ctx)
    called = [e for e in queued if e.name == events.TICKET_CALLED]
    # The site's displays, its agents, and the screen above the counter (display/).
    counter_room = f"counter:{counters['Guichet 2'].id}"
    assert {e.room for e in called} == {"site:thies", "agents:thies", counter_room}
    assert called[0].payload["label"] == ticket.label
    assert called[0].payload["counter"] == "Guichet 2"
    assert "771234567" not in repr(queued)
    ctx.rollback()
    assert events.pending_events(ctx) == []


def test_a_day_in_another_time_zone_is_not_confused(any_app):
    """A site at UTC+1 and one at UTC+0 number the same instant on different days."""
    build_office(any_app, slug="dakar")
    with any_app.app_context():
        session = db.session
        porto = create_site(session, "porto", "Porto-Novo", "Africa/Porto-Novo")
        service = create_service(session, porto, "EC", names={"fr": "État civil"}, prefix="C")
        dakar = session.scalar(select(Site).where(Site.slug == "dakar"))
        cni = session.scalar(
            select(Service).where(Service.site_id == dakar.id, Service.code == "CNI")
        )
        session.commit()
        with time_machine.travel(datetime(2026, 11, 23, 23, 15, tzinfo=UTC), tick=False):
            in_porto = issue(session, porto, service)
            in_dakar = issue(session, dakar, cni)
        assert in_porto.service_day == date(2026, 11, 24)
        assert in_dakar.service_day == date(2026, 11, 23)
