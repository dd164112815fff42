"""When a contact may enter a sequence: event, segment (on its cron) and date anniversaries.

Cron math uses APScheduler's CronTrigger as a pure function of (after); no scheduler runs here.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from journeyctl.engine.facts import NEVER
from journeyctl.engine.model import Contact, Enrollment, Outcome
from journeyctl.engine.timing import add_years, after, at_local, local_date
from journeyctl.spec.durations import Duration
from journeyctl.spec.models import DateSpec, Reentry

_TICK: Final = timedelta(microseconds=1)
_MARGIN: Final = timedelta(days=2)


class _Timeline:
    """Consecutive fire times of one cron expression in one zone, computed once and shared by
    every contact: APScheduler works each question out afresh, a bisect here is cheap, and
    contacts ask from their own instants (an event's time), so caching answers by the exact
    time asked would rarely hit."""

    _MAX = 200_000  # fires kept (an hourly check: 22 years)

    def __init__(self, expr: str, tz_name: str) -> None:
        self._trigger = CronTrigger.from_crontab(expr, timezone=ZoneInfo(tz_name))
        # Every fire in (_since, _fires[-1]], in order, UTC.
        self._since = NEVER
        self._fires: list[datetime] = []

    def _next(self, t: datetime) -> datetime | None:
        fire = self._trigger.get_next_fire_time(None, t + _TICK)
        return fire.astimezone(UTC) if fire is not None else None

    def after(self, t: datetime) -> datetime | None:
        fires = self._fires
        if self._since <= t and fires and t < fires[-1]:
            return fires[_first_after(fires, t)]
        if not fires or len(fires) >= self._MAX:
            first = self._next(t)  # start afresh from here
            self._since, self._fires = t, [] if first is None else [first]
            return first
        if t < self._since:  # earlier than known: add the fires up to the known ones
            earlier: list[datetime] = []
            fire = self._next(t)
            while fire is not None and fire < fires[0] and len(earlier) < self._MAX:
                earlier.append(fire)
                fire = self._next(fire)
            if fire is None or fire != fires[0]:
                self._since, self._fires = NEVER, []
                return self.after(t)
            self._since, self._fires = t, earlier + fires
            return self.after(t)
        while fires[-1] <= t:  # later than known: extend forward
            nxt = self._next(fires[-1])
            if nxt is None:
                return None
            fires.append(nxt)
        return fires[bisect_right(fires, t)]


# Whether this module runs compiled (mypyc): its `__file__` is then the extension module.
_COMPILED: Final = not __file__.endswith(".py")


def _first_after(fires: list[datetime], t: datetime) -> int:
    """`bisect_right(fires, t)`. Compiled, a loop: no call through the module's globals and
    the bisect module's argument parsing, which cost more than the few comparisons; as
    Python source, the bisect module's C loop is the faster."""
    if not _COMPILED:
        return bisect_right(fires, t)
    lo, hi = 0, len(fires)
    while lo < hi:
        mid = (lo + hi) // 2
        if t < fires[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


@lru_cache(maxsize=256)
def cron_timeline(expr: str, tz_name: str) -> _Timeline:
    """The shared fire times of a cron expression in a zone: `.after(t)`, in UTC."""
    return _Timeline(expr, tz_name)


def anniversary_date(contact: Contact, field: str, tz: ZoneInfo) -> date | None:
    """The local date of the contact's `field`, when it holds a date or datetime."""
    value = contact.attrs.get(field)
    if isinstance(value, datetime):
        return local_date(value, tz)
    if isinstance(value, date):
        return value
    return None


def next_anniversary(base: date, spec: DateSpec, tz: ZoneInfo, after_t: datetime) -> datetime:
    """The first occurrence (base + k*every years, k >= 1, at local `at`, plus offset) > after_t.

    29 February falls on 28 February in other years (SPEC §2). A date added or changed later is
    read afresh on every call, so its next occurrence still triggers.
    """
    return AnniversaryRule(spec).next_fire(base, tz, after_t)


class AnniversaryRule:
    """A date trigger's `every`, `at` and `offset` as plain values (read at every contact's
    date check; the DateSpec model's attributes are slow to read)."""

    def __init__(self, spec: DateSpec) -> None:
        self.field = spec.field
        self.every = spec.every_years
        self.at = spec.at
        self.off_days = spec.offset.days
        self.off_seconds = spec.offset.seconds
        self.off_approx = spec.offset.approx()
        # (zone, date) -> (since, fires): every fire in (since, fires[-1]], in order
        self._fires: dict[tuple[ZoneInfo, date], tuple[datetime, list[datetime]]] = {}

    def shared_next_fire(self, base: date, tz: ZoneInfo, after_t: datetime) -> datetime:
        """`next_fire`, shared by the contacts with the same date in the same zone: simulate
        starts them all at the same instant, and asks again at each one's fire."""
        key = (tz, base)
        known = self._fires.get(key)
        if known is not None and known[0] <= after_t:
            fires = known[1]
            while fires[-1] <= after_t:
                if len(fires) >= 16:  # far past what is known: start afresh from here
                    break
                fires.append(self.next_fire(base, tz, fires[-1]))  # the one after the last
            else:
                return fires[bisect_right(fires, after_t)]
        fire = self.next_fire(base, tz, after_t)
        if len(self._fires) >= 65536:
            self._fires.clear()
        self._fires[key] = (after_t, [fire])
        return fire

    def next_fire(self, base: date, tz: ZoneInfo, after_t: datetime) -> datetime:
        """`next_anniversary` of this rule."""
        n = self.every
        # An occurrence fires after `after_t` only if its date (before the offset) is after
        # `after_t - offset`, so no occurrence dated in an earlier year can (two days' margin
        # for zones and clocks). Offsets may exceed a year (`offset: 400d`).
        earliest = after_t - self.off_approx - _MARGIN
        k = max(1, (earliest.year - base.year) // n)
        month, day, year = base.month, base.day, base.year
        while True:
            fire = _occurrence(
                month, day, year + k * n, self.at, self.off_days, self.off_seconds, tz
            )
            if fire > after_t:
                return fire
            k += 1


@lru_cache(maxsize=65536)
def _occurrence(
    month: int, day: int, year: int, at: time, off_days: int, off_seconds: int, tz: ZoneInfo
) -> datetime:
    """One year's occurrence of a day: shared by every contact born (or signed up) that day,
    whatever the year, so it is computed once. Keyed by plain values (hashing a DateSpec or
    a Duration is slow)."""
    when = add_years(date(2000, month, day), year - 2000)  # 29 Feb -> 28 Feb in other years
    return after(at_local(when, at, tz), Duration(off_days, off_seconds), tz)


def reentry_allows(
    sid: str, reentry: Reentry, history: list[Enrollment], t: datetime, tz: ZoneInfo
) -> str | None:
    """None when the contact may enter sequence `sid` (with its `reentry`) now, else the
    reason it may not."""
    last = None
    for e in history:  # one pass: asked at every event that could enroll
        if e.sequence == sid:
            if e.outcome is Outcome.ACTIVE:
                return "already_active"
            if last is None or e.entered_at > last:
                last = e.entered_at
    if last is None or reentry == "always":
        return None
    if reentry == "never":
        return "reentry_never"
    assert isinstance(reentry, Duration)
    return None if after(last, reentry, tz) <= t else "reentry_gap"
