"""The call policy: priority first, then the longest weighted wait, no starvation."""

from datetime import UTC, datetime, timedelta

from queue_app.queue.policy import Candidate, choose_next

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def head(ticket_id: int, service_id: int, waited_minutes: float, *, priority=False, weight=1):
    return Candidate(
        ticket_id=ticket_id,
        service_id=service_id,
        is_priority=priority,
        waiting_since=NOW - timedelta(minutes=waited_minutes),
        weight=weight,
    )


def test_nothing_waiting_gives_nothing():
    assert choose_next([], NOW) is None


def test_longest_wait_wins_between_services_of_equal_weight():
    chosen = choose_next([head(1, 10, 5), head(2, 20, 12)], NOW)
    assert chosen.ticket_id == 2


def test_priority_ticket_goes_before_a_longer_normal_wait():
    chosen = choose_next([head(1, 10, 40), head(2, 20, 1, priority=True)], NOW)
    assert chosen.ticket_id == 2


def test_among_priority_tickets_the_longest_wait_wins():
    chosen = choose_next(
        [head(1, 10, 3, priority=True), head(2, 20, 9, priority=True), head(3, 30, 50)], NOW
    )
    assert chosen.ticket_id == 2


def test_weight_lets_a_service_go_first_with_a_shorter_wait():
    # 6 minutes at weight 3 count as 18 > 10 minutes at weight 1.
    chosen = choose_next([head(1, 10, 10), head(2, 20, 6, weight=3)], NOW)
    assert chosen.ticket_id == 2


def test_weight_does_not_starve_the_light_service():
    # The light service keeps waiting; past three times the heavy wait it goes first.
    chosen = choose_next([head(1, 10, 31), head(2, 20, 10, weight=3)], NOW)
    assert chosen.ticket_id == 1


def test_equal_scores_go_to_the_older_ticket():
    chosen = choose_next([head(7, 10, 0), head(3, 20, 0)], NOW)
    assert chosen.ticket_id == 3


def test_weighted_service_is_served_about_as_often_as_its_weight():
    """Simulate a counter serving two always-busy services, weights 2 and 1."""
    arrivals = {10: [], 20: []}
    clock = NOW
    next_id = 0
    for minute in range(600):
        for service in (10, 20):
            next_id += 1
            arrivals[service].append((next_id, clock + timedelta(minutes=minute)))
    served = {10: 0, 20: 0}
    clock = NOW + timedelta(minutes=60)
    weights = {10: 2, 20: 1}
    for step in range(450):
        if step == 150:  # past the warm-up, where the backlog of the heavy service drains
            served = {10: 0, 20: 0}
        heads = [
            Candidate(arrivals[s][0][0], s, False, arrivals[s][0][1], weights[s])
            for s in (10, 20)
            if arrivals[s] and arrivals[s][0][1] <= clock
        ]
        chosen = choose_next(heads, clock)
        if chosen is not None:
            arrivals[chosen.service_id].pop(0)
            served[chosen.service_id] += 1
        clock += timedelta(minutes=1)
    ratio = served[10] / served[20]
    assert 1.8 <= ratio <= 2.2, served


def test_a_due_appointment_goes_before_priority_and_longer_waits():
    appointment = Candidate(9, 10, False, NOW - timedelta(minutes=1), 1, is_appointment=True)
    chosen = choose_next([head(1, 10, 50), head(2, 20, 30, priority=True), appointment], NOW)
    assert chosen.ticket_id == 9


def test_among_due_appointments_the_earliest_slot_goes_first():
    early = Candidate(5, 10, False, NOW - timedelta(minutes=10), 1, is_appointment=True)
    late = Candidate(4, 20, False, NOW - timedelta(minutes=2), 3, is_appointment=True)
    assert choose_next([late, early], NOW).ticket_id == 5
