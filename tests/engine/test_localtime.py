"""engine.localtime's integer local time agrees with zoneinfo's datetime arithmetic, across
DST transitions (both sides, inside gaps and folds) and anywhere else, in zones with ordinary
DST, none, a negative one and a 30-minute one."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from journeyctl.engine import localtime as lt

ZONES = ["Asia/Seoul", "America/New_York", "Europe/London", "Australia/Lord_Howe",
         "Europe/Dublin", "Pacific/Apia"]  # fmt: skip
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_US = timedelta(microseconds=1)


@functools.cache
def _transitions(name: str) -> list[int]:
    """Every instant (microseconds) 1970-2040 where zoneinfo's offset changes, by a scan
    every 12 hours (independent of localtime's daily probe) refined to the second."""
    tz = ZoneInfo(name)
    out = []
    t = datetime(1970, 1, 1, tzinfo=UTC)
    end = datetime(2040, 1, 1, tzinfo=UTC)
    off = t.astimezone(tz).utcoffset()
    while t < end:
        nxt = t + timedelta(hours=12)
        there = nxt.astimezone(tz).utcoffset()
        if there != off:
            lo, hi = t, nxt
            while hi - lo > timedelta(seconds=1):
                mid = (lo + (hi - lo) / 2).replace(microsecond=0)
                if mid.astimezone(tz).utcoffset() == off:
                    lo = mid
                else:
                    hi = mid
            out.append((hi - _EPOCH) // _US)
            off = there
        t = nxt
    return out


@st.composite
def instants(draw: st.DrawFn) -> tuple[str, int]:
    """A zone and an instant: most near one of its transitions (within 30 hours), the rest
    anywhere from 1970 to 2040."""
    name = draw(st.sampled_from(ZONES))
    if draw(st.integers(0, 3)) == 0:
        return name, draw(st.integers(0, (2040 - 1970) * 365 * lt.DAY))
    near = draw(st.sampled_from(_transitions(name)))
    return name, near + draw(st.integers(-30 * lt.HOUR, 30 * lt.HOUR))


def _aware(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _naive(w: int) -> datetime:
    return _NAIVE_EPOCH + timedelta(microseconds=w)


@settings(max_examples=3000, deadline=None)
@given(instants())
def test_offset_wall_day_and_clock_are_zoneinfos(case: tuple[str, int]) -> None:
    name, us = case
    tz = ZoneInfo(name)
    local = _aware(us).astimezone(tz)
    offset = local.utcoffset()
    assert offset is not None
    assert lt.utc_offset(us, tz) == offset // _US
    assert _naive(lt.wall(us, tz)) == local.replace(tzinfo=None)
    assert date.fromordinal(lt.EPOCH_ORDINAL + lt.local_day(us, tz)) == local.date()
    assert lt.local_clock(us, tz) == (local - local.replace(hour=0, minute=0, second=0,
                                                            microsecond=0)) // _US  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(instants())
def test_a_wall_time_names_zoneinfos_instant(case: tuple[str, int]) -> None:
    """Any wall time, in gaps and folds too, read as zoneinfo reads it with fold=0."""
    name, w = case  # the drawn number read as a wall clock near a transition
    tz = ZoneInfo(name)
    expected = _naive(w).replace(tzinfo=tz).astimezone(UTC)
    assert _aware(lt.instant(w, tz)) == expected


@settings(max_examples=3000, deadline=None)
@given(instants(), st.integers(-400, 400))
def test_calendar_days_are_zoneinfos(case: tuple[str, int], days: int) -> None:
    """The same wall time `days` later: zoneinfo's local datetime plus days, read back."""
    name, us = case
    tz = ZoneInfo(name)
    local = _aware(us).astimezone(tz).replace(tzinfo=None) + timedelta(days=days)
    expected = local.replace(tzinfo=tz).astimezone(UTC)
    assert _aware(lt.add_days(us, days, tz)) == expected


def test_lord_howe_moves_half_an_hour() -> None:
    """Australia/Lord_Howe's DST is 30 minutes: 2026-10-04 02:00 local does not exist and
    reads as 02:30; the day before at 02:15 plus one day is 02:45 the next (fold=0)."""
    tz = ZoneInfo("Australia/Lord_Howe")
    w = (datetime(2026, 10, 4, 2, 15) - _NAIVE_EPOCH) // _US
    got = _aware(lt.instant(w, tz)).astimezone(tz)
    assert got.replace(tzinfo=None) == datetime(2026, 10, 4, 2, 45)
    before = (datetime(2026, 10, 3, 2, 15, tzinfo=tz) - _EPOCH) // _US
    assert lt.add_days(before, 1, tz) == lt.instant(w, tz)
    assert lt.add_days(before, 1, tz) - before == 24 * lt.HOUR
