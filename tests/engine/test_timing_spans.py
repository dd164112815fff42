"""engine.timing's offset spans (conversions without zoneinfo's round trip) agree with zoneinfo
everywhere: at every transition of zones with odd rules, on both sides of it, and elsewhere."""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from journeyctl.engine import localtime, timing
from journeyctl.engine.timing import (
    add_local_days,
    at_local,
    local_date,
    local_day_and_time,
    local_time,
    local_to_utc,
)

ZONES = [
    "America/New_York", "Europe/Berlin", "Asia/Seoul", "UTC",
    "Europe/Dublin",  # negative DST in tzdata: winter is the "daylight" time
    "Australia/Lord_Howe",  # 30-minute DST
    "Pacific/Apia",  # skipped 30 December 2011 (24-hour jump forward)
    "Africa/Casablanca",  # DST suspended for Ramadan: four transitions some years
    "Antarctica/Troll",  # 2-hour DST
    "America/St_Johns", "Asia/Kathmandu", "Pacific/Chatham", "America/Sao_Paulo",
    "Pacific/Kiritimati",  # UTC+14
]  # fmt: skip
YEARS = (
    1969,
    1970,
    2011,
    2012,
    2019,
    2025,
    2026,
    2027,
)  # Apia's skipped day; Casablanca's rules changed
AROUND = [timedelta(0), timedelta(seconds=1), timedelta(minutes=30), timedelta(hours=1),
          timedelta(hours=2), timedelta(hours=25), timedelta(hours=27)]  # fmt: skip


@functools.cache
def _reference_transitions(tz: ZoneInfo, year: int) -> tuple[datetime, ...]:
    return tuple(_scan(tz, year))


def _scan(tz: ZoneInfo, year: int) -> Iterator[datetime]:
    """Every instant in `year` where zoneinfo's offset changes, found by scanning each hour
    (independent of timing's probing) and then each second of the changed hour."""
    t = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    off = t.astimezone(tz).utcoffset()
    while t < end:
        nxt = t + timedelta(hours=1)
        if nxt.astimezone(tz).utcoffset() != off:
            lo, hi = t, nxt
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if mid.astimezone(tz).utcoffset() == off:
                    lo = mid
                else:
                    hi = mid
            yield hi
            off = nxt.astimezone(tz).utcoffset()
        t = nxt


@functools.cache
def _instants(tz: ZoneInfo) -> list[datetime]:
    """Both sides of every transition, plus random instants, in a shuffled order (so the
    cached span keeps changing)."""
    rng = random.Random(tz.key)
    out: list[datetime] = []
    for year in YEARS:
        for tr in _reference_transitions(tz, year):
            for d in AROUND:
                out += [tr - d, tr + d, tr - d - timedelta(microseconds=1)]
        start = datetime(year, 1, 1, tzinfo=UTC)
        out += [start + timedelta(seconds=rng.randrange(366 * 86400)) for _ in range(40)]
        out += [start, start - timedelta(microseconds=1)]
    rng.shuffle(out)
    return out


@pytest.fixture(autouse=True)
def _fresh_tables() -> Iterator[None]:
    timing._SPANS.clear()
    timing._YEARS.clear()
    localtime._LAST.clear()
    localtime._YEARS.clear()
    yield


@pytest.mark.parametrize("name", ZONES)
def test_transitions_are_found_to_the_second(name: str) -> None:
    tz = ZoneInfo(name)
    for year in YEARS:
        if year >= localtime.FIRST_PROBED_YEAR:
            starts = timing._year(tz, year)[0]  # the year's start, then each transition
            assert starts[1:] == list(_reference_transitions(tz, year)), year


def test_no_zone_changes_its_offset_twice_within_a_probe() -> None:
    """What probing once a day relies on, checked on the tzdata installed: from 1970 through
    2045, consecutive offset changes of every zone lie more than a probe apart. (The exact
    transitions are read from zoneinfo's pure-Python reader of the same files.)"""
    from zoneinfo import available_timezones
    from zoneinfo._zoneinfo import ZoneInfo as FileZone

    lo, hi = datetime(1970, 1, 1, tzinfo=UTC), datetime(2046, 1, 1, tzinfo=UTC)
    closest = timedelta.max
    for name in available_timezones():
        tz = FileZone.no_cache(name)
        found = {datetime.fromtimestamp(s, UTC) for s in tz._trans_utc}
        rule = getattr(tz._tz_after, "transitions", None)
        for year in range(1970, 2046) if rule is not None else ():
            found.update(datetime.fromtimestamp(s, UTC) for s in rule(year) or ())
        changes = [
            t for t in sorted(found)
            if lo <= t < hi and (t - timedelta(seconds=1)).astimezone(tz).utcoffset()
            != t.astimezone(tz).utcoffset()
        ]  # fmt: skip
        for a, b in itertools.pairwise(changes):
            closest = min(closest, b - a)
    assert localtime._PROBE < closest < timedelta(days=60)  # (the bound: the scan found pairs)


@pytest.mark.parametrize("name", ZONES)
def test_local_dates_and_times_match_zoneinfo(name: str) -> None:
    tz = ZoneInfo(name)
    for t in _instants(tz):
        local = t.astimezone(tz)
        assert local_date(t, tz) == local.date(), t
        assert local_time(t, tz) == local.time(), t
        assert local_day_and_time(t, tz) == (local.date(), local.time()), t
        # an instant given in another zone converts the same
        assert local_date(local, tz) == local.date(), t


@pytest.mark.parametrize("name", ZONES)
def test_calendar_days_match_the_wall_clock_round_trip(name: str) -> None:
    tz = ZoneInfo(name)
    rng = random.Random(name)
    for t in _instants(tz):
        days = rng.choice([1, 2, 3, 7, 14, 30, 365, 366])
        for start in (t, t - timedelta(days=days)):  # land just by, and start by, a transition
            wall = start.astimezone(tz).replace(tzinfo=None) + timedelta(days=days)
            expected = wall.replace(tzinfo=tz).astimezone(UTC)
            assert add_local_days(start, days, tz) == expected, (start, days)


@pytest.mark.parametrize("name", ZONES)
def test_wall_times_to_instants_match_zoneinfo(name: str) -> None:
    """Gaps map forward and repeated times take their first occurrence (fold 0), as zoneinfo."""
    tz = ZoneInfo(name)
    for t in _instants(tz):
        wall = t.astimezone(tz).replace(tzinfo=None)
        for w in (wall, wall + timedelta(minutes=30), wall - timedelta(hours=1)):
            expected = w.replace(tzinfo=tz).astimezone(UTC)
            assert local_to_utc(w, tz) == expected, w
            assert at_local(w.date(), w.time(), tz) == expected, w
            assert local_to_utc(w, tz).tzinfo is UTC


def test_the_spans_are_what_the_fast_path_uses() -> None:
    """Guard against a test that passes because everything fell back to zoneinfo: far from
    transitions, conversions are served by a cached span."""
    tz = ZoneInfo("America/New_York")
    t = datetime(2026, 12, 15, 12, tzinfo=UTC)
    assert local_time(t, tz) == time(7, 0)
    span = timing._SPANS[tz]
    assert span.lo == datetime(2026, 11, 1, 6, tzinfo=UTC)  # 02:00 EDT -> 01:00 EST
    assert span.hi == datetime(2027, 1, 1, tzinfo=UTC)  # spans end at the new year
    assert span.offset == timedelta(hours=-5)
    assert at_local(date(2026, 12, 20), time(9), tz) == datetime(2026, 12, 20, 14, tzinfo=UTC)
    assert add_local_days(t, 2, tz) == t + timedelta(days=2)


@pytest.mark.parametrize("name", ["America/New_York", "Europe/Berlin", "Pacific/Apia"])
def test_instants_given_in_the_zone_itself_are_read_as_zoneinfo_reads_them(name: str) -> None:
    """`t.astimezone(tz)` keeps a `t` already in `tz` as it is, even a wall time in a gap
    (which no UTC instant shows): the spans must not move it."""
    tz = ZoneInfo(name)
    for t in _instants(tz)[:400]:
        wall = t.astimezone(tz).replace(tzinfo=None)
        for w in (wall, wall + timedelta(minutes=30), wall - timedelta(hours=1)):
            own = w.replace(tzinfo=tz)  # may lie in a gap or a fold
            assert local_date(own, tz) == own.astimezone(tz).date(), own
            assert local_time(own, tz) == own.astimezone(tz).time(), own
            for days in (1, -1, 3):
                ref = (
                    (own.astimezone(tz).replace(tzinfo=None) + timedelta(days=days))
                    .replace(tzinfo=tz)
                    .astimezone(UTC)
                )
                assert add_local_days(own, days, tz) == ref, (own, days)
    gap = datetime(2024, 3, 10, 2, 30, tzinfo=ZoneInfo("America/New_York"))  # no such UTC time
    assert local_time(gap, ZoneInfo("America/New_York")) == time(2, 30)


def test_the_last_year_is_left_to_zoneinfo() -> None:
    tz = ZoneInfo("America/New_York")
    t = datetime(9999, 6, 1, tzinfo=UTC)
    assert local_date(t, tz) == t.astimezone(tz).date()
    assert local_to_utc(datetime(9999, 6, 1), tz) == datetime(9999, 6, 1, tzinfo=tz).astimezone(UTC)
