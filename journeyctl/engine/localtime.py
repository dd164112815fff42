"""Local time in integers: a zone's UTC offset at an instant, the wall clock at an instant, and
the instant a wall clock names, all as integer microseconds (instants since the UTC epoch,
wall clocks since the local epoch: 1970-01-01 00:00 on the wall).

The one place that reads a zone's transitions: each (zone, UTC year) is probed from zoneinfo
once, as spans of constant offset, and every conversion after that is integer arithmetic on
the span that holds it. engine.timing's datetime functions are a thin layer over this module;
instants the engine keeps as integers (docs/decisions/instants.md) use it directly.

Wall clocks follow zoneinfo's `fold=0` reading: a wall time in a gap (clocks jump forward)
is read with the offset before the jump, so it names an instant after the gap, the same wall
time moved forward by the gap; one that occurs twice (clocks fall back) names its first
occurrence. tests/engine/test_localtime.py holds every function to zoneinfo's datetimes.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

SECOND: Final = 1_000_000
MINUTE: Final = 60 * SECOND
HOUR: Final = 60 * MINUTE
DAY: Final = 24 * HOUR
EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()  # day 0 of both epochs
_MAX_ORDINAL: Final = date.max.toordinal()

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH: Final = datetime(1970, 1, 1)  # noqa: DTZ001 (wall clocks are naive)
_MICRO: Final = timedelta(microseconds=1)
# Offsets are probed once a day: from 1970 on, no zone's offset changes twice within 6 days
# (tests/engine/test_timing_spans.py checks the tzdata installed). Earlier, zoneinfo decides.
_PROBE: Final = timedelta(days=1)
FIRST_PROBED_YEAR: Final = 1970
LAST_PROBED_YEAR: Final = 9999  # its year's end is past datetime.max
# More than any UTC offset (UTC-12..UTC+14): a wall time this far from a span's ends is an
# instant inside it. Also more than any backward jump, so no fold reaches that far either.
REACH: Final = 26 * HOUR


def to_micros(t: datetime) -> int:
    """An aware datetime as microseconds since the UTC epoch (exact)."""
    return (t - _EPOCH) // _MICRO


def from_micros(us: int) -> datetime:
    """Microseconds since the UTC epoch as an aware datetime in UTC."""
    return _EPOCH + timedelta(microseconds=us)


class Span:
    """[lo, hi): instants (UTC microseconds) at which a zone's UTC offset is `offset`."""

    __slots__ = ("hi", "lo", "offset")

    def __init__(self, lo: int, hi: int, offset: int) -> None:
        self.lo = lo
        self.hi = hi
        self.offset = offset


_LAST: Final[dict[ZoneInfo, Span]] = {}  # the span last used, per zone
_YEARS: Final[dict[tuple[ZoneInfo, int], tuple[list[int], list[Span]]]] = {}


def zoneinfo_offset(us: int, tz: ZoneInfo) -> int:
    """The UTC offset at instant `us` as zoneinfo gives it (the reference, and the fallback
    outside the probed years)."""
    off = from_micros(us).astimezone(tz).utcoffset()
    assert off is not None  # a ZoneInfo always has one
    return off // _MICRO


def _offset(t: datetime, tz: ZoneInfo) -> int:
    off = t.astimezone(tz).utcoffset()
    assert off is not None  # a ZoneInfo always has one
    return off // _MICRO


def year_spans(tz: ZoneInfo, year: int) -> tuple[list[int], list[Span]]:
    """A zone's spans of constant offset through one UTC year and where each starts (the
    year's start, then each transition), found once."""
    key = (tz, year)
    known = _YEARS.get(key)
    if known is not None:
        return known
    # Probed as datetimes (stepping one costs less than making one from an integer).
    t = datetime(year, 1, 1, tzinfo=UTC)
    end_t = datetime(year + 1, 1, 1, tzinfo=UTC)
    end = to_micros(end_t)
    starts, offsets = [to_micros(t)], [_offset(t, tz)]
    off = offsets[0]
    while t < end_t:
        probe = min(t + _PROBE, end_t)
        there = _offset(probe, tz)
        if there != off:
            lo, hi = to_micros(t), to_micros(probe)  # whole seconds: so are tzdata's changes
            while hi - lo > SECOND:
                mid = lo + (hi - lo) // SECOND // 2 * SECOND
                if zoneinfo_offset(mid, tz) == off:
                    lo = mid
                else:
                    hi = mid
            if hi < end:  # a change at the new year is the next year's start
                starts.append(hi)
                offsets.append(there)
            off = there
        t = probe
    ends = [*starts[1:], end]
    known = _YEARS[key] = (
        starts,
        [Span(a, b, o) for a, b, o in zip(starts, ends, offsets, strict=True)],
    )
    return known


def span_of(us: int, tz: ZoneInfo) -> Span:
    """The span of constant offset holding instant `us` (spans also end at each new year,
    UTC). Outside the probed years an empty span, serving `us` only."""
    s = _LAST.get(tz)
    if s is not None and s.lo <= us < s.hi:
        return s
    day = EPOCH_ORDINAL + us // DAY
    year = date.fromordinal(day).year if 1 <= day <= _MAX_ORDINAL else 0
    if not FIRST_PROBED_YEAR <= year < LAST_PROBED_YEAR:
        return Span(us, us, zoneinfo_offset(us, tz))
    starts, spans = year_spans(tz, year)
    s = _LAST[tz] = spans[bisect_right(starts, us) - 1]
    return s


def utc_offset(us: int, tz: ZoneInfo) -> int:
    """The UTC offset in `tz` at instant `us`, in microseconds."""
    s = _LAST.get(tz)
    if s is not None and s.lo <= us < s.hi:
        return s.offset
    return span_of(us, tz).offset


def wall(us: int, tz: ZoneInfo) -> int:
    """The wall clock in `tz` at instant `us` (microseconds since the local epoch)."""
    return us + utc_offset(us, tz)


def instant(w: int, tz: ZoneInfo) -> int:
    """The instant the wall clock `w` names in `tz` (fold=0: see the module's docstring)."""
    s = span_of(w, tz)
    if s.lo + REACH <= w < s.hi - REACH:  # every reading of `w` lies in this span
        return w - s.offset
    # Near a transition: zoneinfo's rule, a transition applies to wall times from its
    # instant plus the larger of the offsets on its two sides.
    lo = span_of(w - REACH, tz)
    off = lo.offset
    if lo.hi <= lo.lo:  # outside the probed years: zoneinfo reads it
        return _zoneinfo_instant(w, tz)
    b = lo.hi
    while b <= w + REACH:
        nxt = span_of(b, tz)
        if nxt.hi <= nxt.lo:
            return _zoneinfo_instant(w, tz)
        if w >= b + max(off, nxt.offset):
            off = nxt.offset
        else:
            break
        b = nxt.hi
    return w - off


def _zoneinfo_instant(w: int, tz: ZoneInfo) -> int:
    naive = _NAIVE_EPOCH + timedelta(microseconds=w)
    return to_micros(naive.replace(tzinfo=tz))


def add_days(us: int, days: int, tz: ZoneInfo) -> int:
    """The same wall-clock time `days` later in `tz` (a time in a gap moves forward; one
    that occurs twice is its first occurrence)."""
    off = utc_offset(us, tz)
    out = us + days * DAY
    # Mostly the offset is the same at both ends: then `out` shows the same wall time, and,
    # far from the transition its span starts at, no fold makes it the second occurrence.
    there = span_of(out, tz)
    if there.offset == off and out >= there.lo + REACH:
        return out
    return instant(us + off + days * DAY, tz)


def local_day(us: int, tz: ZoneInfo) -> int:
    """The calendar day at `us` in `tz`, as days since 1970-01-01 (date.fromordinal of it
    plus EPOCH_ORDINAL is the date)."""
    return wall(us, tz) // DAY


def local_clock(us: int, tz: ZoneInfo) -> int:
    """The wall-clock time of day at `us` in `tz`, as microseconds since local midnight."""
    return wall(us, tz) % DAY


def at_local(day: int, clock: int, tz: ZoneInfo) -> int:
    """The instant of local `clock` (microseconds since midnight) on `day` (days since
    1970-01-01) in `tz`."""
    return instant(day * DAY + clock, tz)
