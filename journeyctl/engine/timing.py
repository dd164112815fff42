"""Calendar arithmetic in the contact's zone: the one place that knows about DST.

`d`/`w` are calendar days on the local wall clock (23:00 EDT + 2d = 23:00 EST, 49h later);
`h`/`m` are absolute. All inputs and outputs are aware datetimes in UTC.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from journeyctl.engine import localtime
from journeyctl.spec.durations import Duration
from journeyctl.spec.models import WEEKDAYS


@lru_cache(maxsize=1024)
def zone(name: str | None, fallback: str) -> ZoneInfo:
    """The contact's zone, or the project's when unknown or invalid (quiet hours never fail open)."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo(fallback)


# Offsets without zoneinfo's round trip. `t.astimezone(tz)` is costly (datetime asks both
# tzinfos for their offsets through generic method calls) and the engine converts many times
# per contact (bench/RESULTS.md). So conversions far from any transition are plain arithmetic
# on the span of constant offset around them: engine.localtime's spans (found once per zone
# and year), made datetimes here once. Near a transition (gaps, folds) zoneinfo decides.


class _Span:
    """[lo, hi): instants (UTC) at which a zone's UTC offset is `offset`; `inner_lo`,
    `inner_hi`: lo and hi moved _REACH inwards (wall times between them are instants inside)."""

    __slots__ = ("hi", "inner_hi", "inner_lo", "lo", "offset")

    def __init__(self, lo: datetime, hi: datetime, offset: timedelta) -> None:
        self.lo = lo
        self.hi = hi
        self.offset = offset
        self.inner_lo = lo + _REACH if lo < _LATEST_INNER_LO else datetime.max.replace(tzinfo=UTC)
        self.inner_hi = hi - _REACH if hi > _EARLIEST_INNER_HI else datetime.min.replace(tzinfo=UTC)


_SPANS: Final[dict[ZoneInfo, _Span]] = {}  # the span last used, per zone
_YEARS: Final[dict[tuple[ZoneInfo, int], tuple[list[datetime], list[_Span]]]] = {}
# More than any UTC offset (UTC-12..UTC+14): a wall time this far from a span's ends is an
# instant inside it. Also more than any backward jump, so no fold reaches that far either.
_REACH: Final = timedelta(microseconds=localtime.REACH)
_LATEST_INNER_LO: Final = datetime.max.replace(tzinfo=UTC) - _REACH
_EARLIEST_INNER_HI: Final = datetime.min.replace(tzinfo=UTC) + _REACH


def _offset_of(t: datetime, tz: ZoneInfo) -> timedelta:
    off = t.astimezone(tz).utcoffset()
    assert off is not None  # a ZoneInfo always has one
    return off


def _year(tz: ZoneInfo, year: int) -> tuple[list[datetime], list[_Span]]:
    """A zone's spans of constant offset through one UTC year, and where each starts (the
    year's start, then each transition): engine.localtime's, as datetimes."""
    key = (tz, year)
    known = _YEARS.get(key)
    if known is not None:
        return known
    _, spans = localtime.year_spans(tz, year)
    made = [
        _Span(
            localtime.from_micros(s.lo),
            localtime.from_micros(s.hi),
            timedelta(microseconds=s.offset),
        )
        for s in spans
    ]
    known = _YEARS[key] = ([s.lo for s in made], made)
    return known


def _span(t: datetime, tz: ZoneInfo) -> _Span:
    """The span of constant offset holding `t` (spans also end at each new year, UTC)."""
    s = _SPANS.get(tz)
    if s is not None and s.lo <= t < s.hi:
        return s
    utc = t if t.tzinfo is UTC else t.astimezone(UTC)
    year = utc.year
    if (
        not localtime.FIRST_PROBED_YEAR <= year < localtime.LAST_PROBED_YEAR
    ):  # an empty span: serves only `t`
        return _Span(utc, utc, _offset_of(utc, tz))
    starts, spans = _year(tz, year)
    s = _SPANS[tz] = spans[bisect_right(starts, utc) - 1]
    return s


def _wall(t: datetime, tz: ZoneInfo) -> datetime:
    """`t` moved by its UTC offset in `tz`: its date() and time() are the local wall clock's
    (its tzinfo says UTC and means nothing)."""
    if t.tzinfo is not UTC:  # e.g. already in `tz`, maybe a wall time in a gap: as it says
        return t.astimezone(tz)
    return t + _span(t, tz).offset


def local_time(t: datetime, tz: ZoneInfo) -> time:
    """The wall-clock time at `t` in `tz`."""
    return _wall(t, tz).time()


def local_date(t: datetime, tz: ZoneInfo) -> date:
    """The calendar day at `t` in `tz`."""
    return _wall(t, tz).date()


def local_day_and_time(t: datetime, tz: ZoneInfo) -> tuple[date, time]:
    wall = _wall(t, tz)
    return wall.date(), wall.time()


def local_to_utc(naive_local: datetime, tz: ZoneInfo) -> datetime:
    # A wall time inside a DST gap does not exist; zoneinfo maps it forward (fold=0), which is
    # what a user expects of "09:00 local" on the day the clocks jump.
    return _labelled_to_utc(naive_local.replace(tzinfo=UTC), tz)


def _labelled_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """The instant a local wall time (given labelled UTC) names in `tz`; see local_to_utc."""
    s = _span(wall, tz)
    if s.inner_lo <= wall < s.inner_hi:  # every reading of `wall` lies in this span
        return wall - s.offset
    return wall.replace(tzinfo=tz).astimezone(UTC)


def after(prev: datetime, dur: Duration, tz: ZoneInfo) -> datetime:
    """`prev` + `dur`: calendar days on the local clock, then absolute seconds."""
    days, seconds = dur.days, dur.seconds
    out = prev
    if days:
        out = add_local_days(prev, days, tz)
    if seconds:
        delta = _second_spans.get(seconds)
        if delta is None:
            delta = timedelta(seconds=seconds)
            if len(_second_spans) < 4096:  # a project's few durations
                _second_spans[seconds] = delta
        out = out + delta
    return out


_second_spans: Final[dict[int, timedelta]] = {}


def add_local_days(prev: datetime, days: int, tz: ZoneInfo) -> datetime:
    """The same wall-clock time `days` later in `tz` (a time in a DST gap moves forward; one
    that occurs twice is its first occurrence), as UTC."""
    # Mostly the offset is the same at both ends, and then it is plain UTC arithmetic: the
    # result shows the target wall time, and, far from the transition its span starts at, no
    # fold can make it the second occurrence.
    if prev.tzinfo is UTC:
        here = _span(prev, tz)
        delta = _day_spans.get(days)
        out = prev + (delta if delta is not None else timedelta(days=days))
        there = here if here.lo <= out < here.hi else _span(out, tz)
        if there.offset == here.offset and out >= there.inner_lo:
            return out
    local = prev.astimezone(tz).replace(tzinfo=None)
    return local_to_utc(local + timedelta(days=days), tz)


_day_spans: Final = {n: timedelta(days=n) for n in range(-400, 401)}


# `prev + dur` in absolute time is within this of `after(prev, dur)`: more than any UTC
# offset change can shift it (offsets span UTC-12..UTC+14; Samoa skipped a day in 2011).
_OFFSET_SLACK: Final = timedelta(hours=27)


def reaches(
    prev: datetime, dur: Duration, t: datetime, tz: ZoneInfo, approx: timedelta | None = None
) -> bool:
    """`after(prev, dur, tz) >= t`, computed exactly only when it is close (a hot path:
    `event_count(..., within=)` asks it for every event of every segment check).
    `approx`: `dur.approx()`, when the caller has it already."""
    rough = prev + (dur.approx() if approx is None else approx)
    if rough - _OFFSET_SLACK >= t:
        return True
    if rough + _OFFSET_SLACK < t:
        return False
    return after(prev, dur, tz) >= t


def at_local(day: date, clock: time, tz: ZoneInfo) -> datetime:
    return _labelled_to_utc(datetime.combine(day, clock, UTC), tz)


def weekday_name(day: date) -> str:
    return WEEKDAYS[day.weekday()]


def next_clock(t: datetime, clock: time, days: Sequence[str], tz: ZoneInfo) -> datetime | None:
    """The first local `clock` on an allowed weekday at or after `t`; None if no day is allowed."""
    if not days:
        return None
    local_day = local_date(t, tz)
    for offset in range(8):
        day = local_day + timedelta(days=offset)
        if weekday_name(day) not in days:
            continue
        candidate = at_local(day, clock, tz)
        if candidate >= t:
            return candidate
    return None


def in_span(local: time, start: time, end: time) -> bool:
    """Whether a local time lies in [start, end), where the span may wrap midnight."""
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def span_end(t: datetime, start: time, end: time, tz: ZoneInfo) -> datetime:
    """For `t` inside a [start, end) span (maybe wrapping midnight), the moment the span ends."""
    day, local = local_day_and_time(t, tz)
    if start > end and local >= start:
        day += timedelta(days=1)
    return at_local(day, end, tz)


def add_years(d: date, years: int) -> date:
    """Anniversary arithmetic: 29 February falls on 28 February in other years."""
    y = d.year + years
    try:
        return d.replace(year=y)
    except ValueError:
        return date(y, 2, 28)
