"""When a contact next needs the engine, and what is due then: its pending events, date
triggers, segment checks (skipping those a horizon proves cannot change anything) and the
steps of its enrollments."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from journeyctl.engine.model import ContactState, Event, Outcome
from journeyctl.engine.plan import SequencePlan
from journeyctl.engine.triggers import anniversary_date

# What is due at an instant (`agenda`'s second value).
EVENTS: Final = 1
DATES: Final = 2
SEGMENTS: Final = 4
STEPS: Final = 8
ACTIVE: Final = Outcome.ACTIVE  # `e.outcome is ACTIVE`: Enrollment.is_active without the call
BEFORE: Final = timedelta(microseconds=1)


def event_at(e: Event) -> datetime:
    return e.at


def _sooner(best: datetime | None, kinds: int, t: datetime, kind: int) -> tuple[datetime, int]:
    """`agenda`'s running minimum with `t` (when `kind` is due) taken in; equal times add
    their kinds. One comparison for the usual later candidate."""
    if best is None:
        return t, kind
    if t <= best:
        return (best, kinds | kind) if t == best else (t, kind)
    return best, kinds


def agenda(
    state: ContactState, tz: ZoneInfo, segments: list[SequencePlan], dates: list[SequencePlan]
) -> tuple[datetime | None, int]:
    """The next due time and what is due then (`EVENTS | DATES | SEGMENTS | STEPS`), for a
    contact whose pending events are in time order. Kept as a running minimum: called at
    every instant, it allocates nothing."""
    cursor = state.cursor
    assert cursor is not None
    best: datetime | None = None
    kinds = 0
    pending = state.pending
    if pending:  # in time order: the first is the next
        at = pending[0].at
        best, kinds = (at if at > cursor else cursor), EVENTS
    t: datetime | None
    for e in state.enrollments:
        t = e.due_at
        if t is not None and e.outcome is ACTIVE and e.held is None:
            best, kinds = _sooner(best, kinds, t, STEPS)
    for s in segments:
        if may_enter(state, s):
            t = segment_alarm(state, s, cursor)
            if t is not None:
                best, kinds = _sooner(best, kinds, t, SEGMENTS)
    alarms = state.alarms
    for s in dates:
        t = alarms.get(s.id, cursor)
        if t is not None and t <= cursor:  # not cached, or passed (None: never fires)
            t = next_date(state, s, tz)
        if t is not None:
            best, kinds = _sooner(best, kinds, t, DATES)
    return best, kinds


def may_enter(state: ContactState, s: SequencePlan) -> bool:
    """Cheap pre-check so contacts that can never re-enter don't wake up for segment checks."""
    if not s.enters_once:
        return True
    sid = s.id
    return not any(e.sequence == sid for e in state.enrollments)


def next_date(state: ContactState, s: SequencePlan, tz: ZoneInfo) -> datetime | None:
    sid = s.id
    cursor = state.cursor
    assert cursor is not None
    if sid in state.alarms:
        cached = state.alarms[sid]
        if cached is None or cached > cursor:
            return cached
    rule = s.anniversary
    assert rule is not None
    try:
        base = anniversary_date(state.contact, rule.field, tz)
        # simulate starts every contact at the same cursor, and many share a date (a
        # birthday, a signup day): the answer is shared too.
        fire = None if base is None else rule.shared_next_fire(base, tz, cursor)
    except (OverflowError, ValueError):
        # A date at the calendar's edge (the readers refuse years 1 and 9999; a store
        # written before may hold one) has no next occurrence: it never fires.
        fire = None
    state.alarms[sid] = fire
    return fire


def segment_alarm(
    state: ContactState, s: SequencePlan, cursor: datetime, at: datetime | None = None
) -> datetime | None:
    """The next check of a segment trigger that could change anything (see horizon).
    `at`: the instant being processed, when its events have just been applied."""
    sid = s.id
    timeline = s.timeline
    assert timeline is not None
    a = state.alarms.get(sid)
    if a is None or a <= cursor:  # not cached, or passed: the first fire after the cursor
        a = state.alarms[sid] = timeline.after(cursor)
    known = state.horizons.get(sid)
    if known is None or a is None:
        return a
    compiled = s.horizon
    assert compiled is not None
    if not compiled.unchanged(state, known):
        del state.horizons[sid]  # new events, messages or attributes: check as planned
        if at is not None and a < at:
            # The fires skipped so far saw the old facts; the first one that may see the
            # new ones is at or after `at` (a fire at that very instant included).
            a = state.alarms[sid] = timeline.after(at - BEFORE)
        return a
    return a if a >= known.horizon else known.skip_to
