"""Site-local days, opening hours and closing times (Porto-Novo is UTC+1).

Hours: None = none configured (always open); {} = closed every day.
"""

from datetime import UTC, date, datetime

from queue_app.models import Site, SiteClosure
from queue_app.queue.days import accepts_tickets, closing_time, service_day


def site(timezone="Africa/Porto-Novo", hours=None, closures=()):
    s = Site(slug="pn", name="Porto-Novo", timezone=timezone, hours=hours)
    s.closures = [SiteClosure(day=d) for d in closures]
    return s


def test_service_day_is_the_local_date():
    porto_novo = site()
    # 23:30 UTC on the 23rd is 00:30 on the 24th in Porto-Novo.
    assert service_day(porto_novo, datetime(2026, 11, 23, 23, 30, tzinfo=UTC)) == date(2026, 11, 24)
    assert service_day(site("Africa/Dakar"), datetime(2026, 11, 23, 23, 30, tzinfo=UTC)) == date(
        2026, 11, 23
    )


def test_closing_time_is_the_last_interval_end_in_local_time():
    hours = {"monday": [["08:00", "12:30"], ["14:00", "17:00"]]}
    # 2026-11-23 is a Monday; 17:00 in Porto-Novo is 16:00 UTC.
    assert closing_time(site(hours=hours), date(2026, 11, 23)) == datetime(
        2026, 11, 23, 16, 0, tzinfo=UTC
    )


def test_without_hours_the_day_ends_at_local_midnight():
    assert closing_time(site(), date(2026, 11, 23)) == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)


def test_kiosks_take_tickets_before_opening_but_not_after_closing():
    porto_novo = site(hours={"monday": [["08:00", "17:00"]]})
    early = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # 07:00 local
    late = datetime(2026, 11, 23, 16, 30, tzinfo=UTC)  # 17:30 local
    assert accepts_tickets(porto_novo, early)
    assert not accepts_tickets(porto_novo, late)


def test_days_without_hours_and_closure_days_take_no_tickets():
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    tuesday = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    hours = {"monday": [["08:00", "17:00"]], "tuesday": [["08:00", "17:00"]]}
    assert not accepts_tickets(site(hours={"monday": [["08:00", "17:00"]]}), tuesday)
    assert not accepts_tickets(site(hours=hours, closures=[date(2026, 11, 23)]), monday)
    assert accepts_tickets(site(hours=hours, closures=[date(2026, 11, 23)]), tuesday)


def test_a_site_without_hours_always_takes_tickets():
    assert accepts_tickets(site(), datetime(2026, 11, 22, 3, 0, tzinfo=UTC))


def test_a_week_without_any_hours_is_closed_every_day():
    closed = site(hours={})
    for day in range(7):
        morning = datetime(2026, 11, 23 + day, 9, 0, tzinfo=UTC)
        assert not accepts_tickets(closed, morning)
    # Its days still end at local midnight (tickets staff let in are closed then).
    assert closing_time(closed, date(2026, 11, 23)) == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)


def test_hours_are_local_to_porto_novo_around_midnight_utc():
    # Open 00:30-02:00 local on Tuesday = 23:30-01:00 UTC from Monday evening.
    night = site(hours={"tuesday": [["00:30", "02:00"]]})
    assert accepts_tickets(night, datetime(2026, 11, 23, 23, 45, tzinfo=UTC))
    assert not accepts_tickets(night, datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
    assert closing_time(night, date(2026, 11, 24)) == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    # 22:30 UTC on Monday is still Monday in Dakar, closed.
    dakar = site("Africa/Dakar", hours={"tuesday": [["00:30", "02:00"]]})
    assert not accepts_tickets(dakar, datetime(2026, 11, 23, 23, 45, tzinfo=UTC))


def test_a_site_without_hours_is_open_but_on_its_closure_days_and_ends_at_midnight():
    always = site(closures=[date(2026, 11, 23)])
    assert not accepts_tickets(always, datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    assert accepts_tickets(always, datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
    assert closing_time(always, date(2026, 11, 24)) == datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
