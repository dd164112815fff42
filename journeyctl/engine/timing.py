"""Calendar arithmetic in the contact's zone: the one place that knows about DST.

`d`/`w` are calendar days on the local wall clock (23:00 EDT + 2d = 23:00 EST, 49h later);
`h`/`m` are absolute. All inputs and outputs are aware datetimes in UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


def local_to_utc(naive_local: datetime, tz: ZoneInfo) -> datetime:
    # A wall time inside a DST gap does not exist; zoneinfo maps it forward (fold=0), which is
    # what a user expects of "09:00 local" on the day the clocks jump.
    return naive_local.replace(tzinfo=tz).astimezone(UTC)


def after(prev: datetime, dur: Duration, tz: ZoneInfo) -> datetime:
    """`prev` + `dur`: calendar days on the local clock, then absolute seconds."""
    out = prev
    if dur.days:
        out = add_local_days(prev, dur.days, tz)
    if dur.seconds:
        out = out + timedelta(seconds=dur.seconds)
    return out


def add_local_days(prev: datetime, days: int, tz: ZoneInfo) -> datetime:
    """The same wall-clock time `days` later in `tz` (a time in a DST gap moves forward; one
    that occurs twice is its first occurrence), as UTC."""
    # Mostly the offset is the same at both ends, and then it is plain UTC arithmetic: the
    # result shows the target wall time, and fold 0 means it is its first occurrence. A third
    # of the cost of the wall-clock round trip (`replace` with tzinfo is slow).
    offset = prev.astimezone(tz).utcoffset()
    out = prev + _day_spans[days] if days in _day_spans else prev + timedelta(days=days)
    there = out.astimezone(tz)
    if there.fold == 0 and there.utcoffset() == offset:
        return out
    local = prev.astimezone(tz).replace(tzinfo=None)
    return local_to_utc(local + timedelta(days=days), tz)


_day_spans = {n: timedelta(days=n) for n in range(-400, 401)}


# `prev + dur` in absolute time is within this of `after(prev, dur)`: more than any UTC
# offset change can shift it (offsets span UTC-12..UTC+14; Samoa skipped a day in 2011).
_OFFSET_SLACK = timedelta(hours=27)


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


@lru_cache(maxsize=4096)
def local_date(t: datetime, tz: ZoneInfo) -> date:
    """The calendar day at `t` in `tz`. Cached: every contact is checked at the same instants,
    and one contact's dates are asked about at each of its checks."""
    return t.astimezone(tz).date()


def at_local(day: date, clock: time, tz: ZoneInfo) -> datetime:
    return local_to_utc(datetime.combine(day, clock), tz)


def weekday_name(day: date) -> str:
    return WEEKDAYS[day.weekday()]


def next_clock(t: datetime, clock: time, days: Sequence[str], tz: ZoneInfo) -> datetime | None:
    """The first local `clock` on an allowed weekday at or after `t`; None if no day is allowed."""
    if not days:
        return None
    local_day = t.astimezone(tz).date()
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
    local = t.astimezone(tz)
    day = local.date()
    if start > end and local.time() >= start:
        day += timedelta(days=1)
    return at_local(day, end, tz)


def add_years(d: date, years: int) -> date:
    """Anniversary arithmetic: 29 February falls on 28 February in other years."""
    y = d.year + years
    try:
        return d.replace(year=y)
    except ValueError:
        return date(y, 2, 28)
