"""Calendar vs absolute waits, DST, anniversaries: engine.timing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from journeyctl.engine.timing import (
    add_years,
    after,
    at_local,
    in_span,
    next_clock,
    reaches,
    span_end,
    zone,
)
from journeyctl.engine.triggers import AnniversaryRule, next_anniversary
from journeyctl.spec.durations import Duration
from journeyctl.spec.models import DateSpec
from tests.builders import BERLIN, KST, NYC, at


def test_calendar_days_keep_wall_clock_across_us_dst_end() -> None:
    # 2026-11-01 02:00 EDT -> EST: 23:00 EDT + 2d is 23:00 EST, 49 hours later.
    start = at("2026-10-31 23:00", NYC)
    end = after(start, Duration.parse("2d"), NYC)
    assert end.astimezone(NYC).replace(tzinfo=None) == datetime(2026, 11, 2, 23, 0)
    assert end - start == timedelta(hours=49)


def test_hours_are_absolute_across_dst() -> None:
    start = at("2026-10-31 23:00", NYC)
    end = after(start, Duration.parse("48h"), NYC)
    assert end - start == timedelta(hours=48)
    assert end.astimezone(NYC).hour == 22  # wall clock moved because the clocks did


def test_berlin_spring_forward_gap_maps_forward() -> None:
    # 2026-03-29 02:00-03:00 does not exist in Berlin; 02:30 local + 1d from 28th lands after it.
    start = at("2026-03-28 02:30", BERLIN)
    end = after(start, Duration.parse("1d"), BERLIN)
    assert end.astimezone(BERLIN).strftime("%m-%d %H:%M") == "03-29 03:30"


def test_seoul_has_no_dst() -> None:
    start = at("2026-11-01 09:00", KST)
    assert after(start, Duration.parse("1w"), KST) - start == timedelta(days=7)


def test_mixed_duration_days_then_hours() -> None:
    start = at("2026-10-31 20:00", NYC)
    end = after(start, Duration.parse("1d12h"), NYC)
    assert end.astimezone(NYC).strftime("%m-%d %H:%M") == "11-02 08:00"


def test_next_clock_is_at_or_after() -> None:
    t = at("2026-11-02 10:00", KST)  # a Monday
    assert next_clock(t, time(10), ["mon"], KST) == t
    assert next_clock(t + timedelta(minutes=1), time(10), ["mon"], KST) == at(
        "2026-11-09 10:00", KST
    )
    assert next_clock(t, time(10), [], KST) is None


def test_quiet_span_wraps_midnight() -> None:
    assert in_span(time(22), time(21), time(8))
    assert in_span(time(7, 59), time(21), time(8))
    assert not in_span(time(8), time(21), time(8))
    assert not in_span(time(12), time(12), time(12))
    t = at("2026-11-01 22:10", KST)
    assert span_end(t, time(21), time(8), KST) == at("2026-11-02 08:00", KST)
    t2 = at("2026-11-02 03:00", KST)
    assert span_end(t2, time(21), time(8), KST) == at("2026-11-02 08:00", KST)


def test_feb_29_anniversary_falls_on_feb_28() -> None:
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)


def test_invalid_zone_falls_back_to_project_zone() -> None:
    assert zone("Mars/Olympus", "Asia/Seoul").key == "Asia/Seoul"
    assert zone(None, "Asia/Seoul").key == "Asia/Seoul"
    assert zone("Europe/Berlin", "Asia/Seoul").key == "Europe/Berlin"


@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),
    st.integers(min_value=0, max_value=60),
    st.sampled_from([NYC, BERLIN, KST]),
)
def test_calendar_days_land_on_same_local_time_and_are_monotone(
    naive: datetime, days: int, tz: object
) -> None:
    assert isinstance(tz, type(KST))
    start = naive.replace(tzinfo=UTC)
    end = after(start, Duration(days=days), tz)
    assert end >= start
    a, b = start.astimezone(tz), end.astimezone(tz)
    assert (b.date() - a.date()).days == days
    # same wall-clock time unless the target falls in a DST gap (then it moves forward by it)
    diff = datetime.combine(date.min, b.time()) - datetime.combine(date.min, a.time())
    assert diff in (timedelta(0), timedelta(hours=1), timedelta(hours=-1)) or days == 0


@given(st.integers(min_value=0, max_value=400), st.integers(min_value=0, max_value=23 * 60))
def test_duration_round_trip(days: int, minutes: int) -> None:
    d = Duration(days=days, seconds=minutes * 60)
    assert Duration.parse(str(d)) == d


ZONES = [NYC, BERLIN, KST, zone("Pacific/Apia", "UTC"), zone("Australia/Lord_Howe", "UTC")]


@given(
    st.datetimes(min_value=datetime(2011, 1, 1), max_value=datetime(2030, 1, 1)),
    st.integers(min_value=-400, max_value=400),
    st.sampled_from([*ZONES, zone("America/Santiago", "UTC"), zone("Europe/Dublin", "UTC")]),
)
def test_calendar_days_equal_the_wall_clock_round_trip(
    naive: datetime, days: int, tz: object
) -> None:
    # The UTC shortcut in `after` must give exactly what converting to the wall clock, adding
    # days and converting back (fold 0) gives: across DST gaps, repeated hours, Samoa's day.
    assert isinstance(tz, type(KST))
    prev = naive.replace(tzinfo=UTC)
    wall = prev.astimezone(tz).replace(tzinfo=None) + timedelta(days=days)
    expected = wall.replace(tzinfo=tz).astimezone(UTC)
    assert after(prev, Duration(days, 0), tz) == expected


def test_calendar_days_into_a_repeated_hour_take_its_first_occurrence() -> None:
    # New York, 2026-11-01 01:30 happens twice (EDT, then EST). Two days back from 01:30 EST
    # on 3 November the UTC shortcut lands on the second one (fold 1): it must not be used.
    prev = datetime(2026, 11, 3, 6, 30, tzinfo=UTC)  # 01:30 EST
    assert after(prev, Duration(-2, 0), NYC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    prev = datetime(2026, 10, 30, 5, 30, tzinfo=UTC)  # 01:30 EDT
    assert after(prev, Duration(2, 0), NYC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


@given(
    st.datetimes(min_value=datetime(2011, 1, 1), max_value=datetime(2030, 1, 1)),
    st.integers(min_value=0, max_value=60),
    st.integers(min_value=-3 * 86400, max_value=3 * 86400),
    st.sampled_from(ZONES),
    st.integers(min_value=-2 * 86400, max_value=2 * 86400),
)
def test_reaches_is_exactly_after_at_or_past(
    naive: datetime, days: int, seconds: int, tz: object, jitter: int
) -> None:
    # The quick bounds in `reaches` must never disagree with the exact calendar arithmetic,
    # including across DST changes and Samoa's skipped day (2011-12-30).
    prev = naive.replace(tzinfo=UTC)
    dur = Duration(days, 0)
    t = after(prev, dur, tz) + timedelta(seconds=seconds + jitter)  # type: ignore[arg-type]
    assert reaches(prev, dur, t, tz) == (after(prev, dur, tz) >= t)  # type: ignore[arg-type]


def test_reaches_across_samoa_skipped_day() -> None:
    apia = zone("Pacific/Apia", "UTC")
    prev = at("2011-12-29 12:00", apia)  # the next local day, 30 December, never happened
    one = Duration.parse("1d")
    landed = after(prev, one, apia)  # the missing wall time maps forward, onto 31 December
    assert landed.astimezone(apia).replace(tzinfo=None) == datetime(2011, 12, 31, 12, 0)
    assert reaches(prev, one, landed, apia)
    assert not reaches(prev, one, landed + timedelta(seconds=1), apia)


@settings(max_examples=400)
@given(
    st.dates(min_value=date(1950, 1, 1), max_value=date(2026, 12, 31)),
    st.sampled_from([1, 2, 3]),
    st.integers(min_value=-400, max_value=400),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1)),
    st.sampled_from([NYC, BERLIN, KST]),
)
def test_next_anniversary_is_the_first_occurrence_after(
    base: date, every: int, offset_days: int, naive: datetime, tz: object
) -> None:
    # The search may start late (a speed-up); brute force from k = 1 must agree.
    spec = DateSpec.model_validate(
        {"field": "birthday", "every": f"{every}y", "at": "10:00", "offset": f"{offset_days}d"}
    )
    after_t = naive.replace(tzinfo=UTC)
    k, first = 1, None
    while first is None:
        fire = after(at_local(add_years(base, k * every), time(10, 0), tz), spec.offset, tz)  # type: ignore[arg-type]
        first = fire if fire > after_t else None
        k += 1
    assert next_anniversary(base, spec, tz, after_t) == first  # type: ignore[arg-type]


@settings(max_examples=200)
@given(
    st.lists(st.dates(min_value=date(1990, 2, 25), max_value=date(1990, 3, 2)), min_size=1),
    st.lists(
        st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2029, 1, 1)),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from(["year", "2y"]),
    st.sampled_from([NYC, KST]),
)
def test_a_shared_fire_is_the_fire_after_each_instant_asked(
    bases: list[date], instants: list[datetime], every: str, tz: object
) -> None:
    """Contacts sharing a date share the answer while it holds: asked in any order, from any
    instant, it is what next_anniversary says from that instant."""
    spec = DateSpec.model_validate(
        {"field": "birthday", "every": every, "at": "09:00", "offset": "-3d"}
    )
    rule = AnniversaryRule(spec)
    for i, naive in enumerate(instants):
        base, t = bases[i % len(bases)], naive.replace(tzinfo=UTC)
        assert rule.shared_next_fire(base, tz, t) == next_anniversary(base, spec, tz, t)  # type: ignore[arg-type]
