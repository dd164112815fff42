"""How long a segment condition is certain to keep its value, so checks that cannot change
anything are skipped.

A segment trigger is checked on its cron (win-back: every day at 09:00) and enrolls on the
edge false -> true. While a contact's facts (its events, messages and attributes) stay the same,
the value can change only through time: `now`, `days_since(...)` crossing midnight and
`event_count(..., within=...)` losing an event that ages out. A condition is compiled (by
engine.fastexpr, tracking) to Python that returns its value together with a *horizon*: a time before
which, facts unchanged, the value is certainly the same. Checks before the horizon would read
the same value and enroll nobody, so the engine does not wake the contact for them.

The horizon is the earliest time any part the evaluation read may change (`now`: at once);
`days_since(x) <op> N` is refined to the one day it flips. Anything not understood makes the
whole condition fall back to a check at every cron fire. Tests compare the horizon, check by
check, with plain evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo

from journeyctl.engine.facts import NEVER, Facts
from journeyctl.engine.fastexpr import READ_ANY_EVENT, READ_MESSAGES, compile_tracking
from journeyctl.engine.model import ContactState, SegmentHorizon
from journeyctl.engine.timing import at_local

# Local midnights are taken this much early: clocks that jump around midnight in some zone
# must never make a date change later than the horizon says.
_MIDNIGHT_MARGIN: Final = timedelta(hours=3)
# (value, horizon, what the evaluation read: READ_* bits and one bit per event name)
Valued = tuple[Any, datetime, int]


@lru_cache(maxsize=4096)
def _local_midnight(today: date, days: int, tz: ZoneInfo) -> datetime:
    """The start of the day `days` after `today` in `tz`, early by the margin."""
    return at_local(today + timedelta(days=days), time(0), tz) - _MIDNIGHT_MARGIN


def next_midnight(facts: Facts) -> datetime:
    """When `days_since` may next change (the start of tomorrow, early by the margin)."""
    return _local_midnight(facts.today(), 1, facts.tz)


def days_flip(facts: Facts, ds: int, c: float) -> datetime:
    """When `days_since(x) <op> c`, now `ds` days, may next change: a count of days compared
    with `c` changes value only as it reaches one of these (it only grows with the clock)."""
    low = int(c) if float(c).is_integer() else math.floor(c)  # it flips at low or low + 1
    if ds < low:
        nxt = low
    elif ds < low + 1:
        nxt = low + 1
    else:
        return NEVER
    return _local_midnight(facts.today(), nxt - ds, facts.tz)


class Horizon:
    """A condition compiled for (value, horizon, reads). `reads` tells which of the contact's
    growing facts this evaluation looked at: a part cut short by `and`/`or` read nothing, and
    `event_count('purchased')` reads only purchases. While those stay the same, so does the
    value (until the horizon)."""

    def __init__(
        self, fn: Callable[[dict[str, Any], Facts], Valued], names: dict[str, int]
    ) -> None:
        self._fn = fn
        self._names = names
        self._read_names: dict[int, frozenset[str] | None] = {}

    def __call__(self, scope: dict[str, Any], facts: Facts) -> Valued:
        return self._fn(scope, facts)

    def event_names(self, reads: int) -> frozenset[str] | None:
        """The names of the events an evaluation read (None: any event)."""
        names = self._read_names.get(reads, ())
        if names == ():
            names = self._read_names[reads] = (
                None
                if reads & READ_ANY_EVENT
                else frozenset(n for n, bit in self._names.items() if reads & bit)
            )
        return names  # type: ignore[return-value]

    def snapshot(
        self, state: ContactState, reads: int, horizon: datetime, skip_to: datetime | None
    ) -> SegmentHorizon:
        """The horizon, with the facts an evaluation with these reads depended on, as of now."""
        return SegmentHorizon(
            state.contact,
            len(state.events),
            self._named(state, reads),
            len(state.messages) if reads & READ_MESSAGES else -1,
            reads,
            horizon,
            skip_to,
        )

    def unchanged(self, state: ContactState, snap: SegmentHorizon) -> bool:
        """Whether the facts `snap` depends on are the same (brought up to date when events
        it did not read were added). Events only ever get added, so counts tell what changed."""
        if snap.contact is not state.contact and snap.contact != state.contact:
            return False
        if snap.n_messages != -1 and snap.n_messages != len(state.messages):
            return False
        n_events = len(state.events)
        if snap.n_events == n_events:
            return True
        if self._named(state, snap.reads) != snap.n_named:
            return False
        snap.n_events = n_events
        return True

    def _named(self, state: ContactState, reads: int) -> int:
        names = self.event_names(reads)
        if names is None:
            return len(state.events)
        return sum(1 for e in state.events if e.name in names) if names else 0


@lru_cache(maxsize=4096)
def horizon_compile(source: str) -> Horizon | None:
    """The condition compiled for (value, horizon, reads), or None when the form is not
    understood (engine.fastexpr: the same compiler as every other evaluation)."""
    made = compile_tracking(
        source, {"NEVER": NEVER, "days_flip": days_flip, "next_midnight": next_midnight}
    )
    return None if made is None else Horizon(*made)
