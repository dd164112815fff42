"""What expressions may ask about a contact's history, as of a moment (no look-ahead).

Opens and clicks that name neither a message nor a step count for the latest message sent to
the contact before the event (SPEC §3).
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from journeyctl.engine.model import ContactState, Enrollment, Event, Message, Status
from journeyctl.engine.timing import after, local_date, reaches
from journeyctl.spec.durations import Duration

NEVER: Final = datetime.max.replace(tzinfo=UTC)  # a value that holds for as long as the facts do


# `within=` texts parsed, with their nominal length: asked at every count of a segment
# check (a dictionary read, where an lru_cache call is a generic one). Bounded: a `within`
# could come from contact data.
_WITHIN: Final[dict[str, tuple[Duration, timedelta]]] = {}
_WITHIN_MAX: Final = 256


def _within(text: str) -> tuple[Duration, timedelta]:
    known = _WITHIN.get(text)
    if known is None:
        span = Duration.parse(text)
        if len(_WITHIN) >= _WITHIN_MAX:
            _WITHIN.clear()
        known = _WITHIN[text] = (span, span.approx())
    return known


def _events_until(state: ContactState, t: datetime) -> list[Event]:
    events = state.events
    if not events or events[-1].at <= t:  # the usual case: nothing processed is later
        return events
    idx = bisect_right(events, t, key=_event_at)
    return events[:idx]


def _event_at(e: Event) -> datetime:
    return e.at


def _sent_until(state: ContactState, t: datetime) -> list[Message]:
    return [m for m in state.messages if m.status is Status.SENT and m.at <= t]


def target_message(state: ContactState, event: Event) -> Message | None:
    """The message an open/click refers to: by message_id, by step, else the latest before it."""
    sent = _sent_until(state, event.at)
    ref = event.prop("message_id")
    if ref:
        return next((m for m in sent if m.key == ref), None)
    step = event.prop("step")
    if step:
        return next((m for m in reversed(sent) if m.step == step), None)
    return sent[-1] if sent else None


class Facts:
    """Expression helpers bound to one contact at time `t` (and its current enrollment).

    Built for every condition the engine evaluates (a daily segment check is one per contact
    per day), so it is cheap to make: the local date is computed once, and `Scope` binds only
    the helpers an expression actually calls.
    """

    __slots__ = ("_today", "enrollment", "state", "t", "tz")

    def __init__(
        self, state: ContactState, t: datetime, enrollment: Enrollment | None, tz: ZoneInfo
    ) -> None:
        self.state, self.t, self.enrollment, self.tz = state, t, enrollment, tz
        self._today: date | None = None

    def today(self) -> date:
        today = self._today
        if today is None and self.t.tzinfo is not UTC:  # the engine's instants are UTC
            today = self._today = local_date(self.t, self.tz)
        elif today is None:
            # Conditions are mostly evaluated at a cron's fire times, the same instants for
            # every contact: each (instant, zone)'s date is worked out once.
            key = (self.t, self.tz)
            today = _TODAY.get(key)
            if today is None:
                today = local_date(self.t, self.tz)
                if len(_TODAY) >= _TODAY_MAX:
                    _TODAY.clear()
                _TODAY[key] = today
            self._today = today
        return today

    def days_since(self, value: datetime | date | None) -> int | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return (self.today() - local_date(value, self.tz)).days
        return (self.today() - value).days

    def event_count(self, name: str, within: str | None = None) -> int:
        events = _events_until(self.state, self.t)
        if within is None:
            return sum(1 for e in events if e.name == name)
        span, approx = _within(within)
        t, tz, n = self.t, self.tz, 0
        # Newest first: `after` is monotonic in the event time, so the first matching event
        # outside the span ends the count.
        for e in reversed(events):
            if e.name == name:
                if not reaches(e.at, span, t, tz, approx):
                    break
                n += 1
        return n

    def event_count_until(self, name: str, within: str | None = None) -> tuple[int, datetime]:
        """`event_count(name, within)` and until when it certainly keeps that value, facts
        unchanged: when the oldest event it counts ages out (never, without `within`)."""
        if within is None:
            return self.event_count(name), NEVER
        span, approx = _within(within)
        t, tz = self.t, self.tz
        oldest, n = None, 0
        for e in reversed(_events_until(self.state, t)):
            if e.name == name:
                if not reaches(e.at, span, t, tz, approx):
                    break
                oldest, n = e, n + 1
        return n, (NEVER if oldest is None else after(oldest.at, span, tz))

    def now(self) -> datetime:
        return self.t.astimezone(self.tz)

    def last_event(self, name: str) -> datetime | None:
        for e in reversed(_events_until(self.state, self.t)):
            if e.name == name:
                return e.at.astimezone(self.tz)
        return None

    def _responded(self, kind: str, step: str) -> bool:
        enrollment = self.enrollment
        seq = enrollment.sequence if enrollment else None
        for e in _events_until(self.state, self.t):
            if e.name != kind:
                continue
            m = target_message(self.state, e)
            if m is None or m.step != step or (seq is not None and m.sequence != seq):
                continue
            if enrollment is None or m.enrollment_id == enrollment.id:
                return True
        return False

    def opened(self, step: str) -> bool:
        return self._responded("opened", step)

    def clicked(self, step: str) -> bool:
        return self._responded("clicked", step)

    def sent(self, step: str) -> bool:
        enrollment = self.enrollment
        return any(
            m.step == step and (enrollment is None or m.enrollment_id == enrollment.id)
            for m in _sent_until(self.state, self.t)
        )


_TODAY: Final[dict[tuple[datetime, ZoneInfo], date]] = {}
_TODAY_MAX: Final = 4096

HELPERS: Final = ("days_since", "event_count", "last_event", "opened", "clicked", "sent")


class Scope(dict[str, Any]):
    """The names an expression sees: given values, plus `now` and the helpers on first use."""

    __slots__ = ("facts",)

    def __init__(self, facts: Facts, values: dict[str, Any]) -> None:
        # dict.__new__ made it empty; compiled, `super().__init__` is a slow generic call
        self.update(values)
        self.facts = facts

    def __missing__(self, key: str) -> Any:
        if key == "now":
            value: Any = self.facts.now()
        elif key in HELPERS:
            value = getattr(self.facts, key)
        else:
            raise KeyError(key)
        self[key] = value
        return value

    def complete(self) -> dict[str, Any]:
        """Every name bound (for evaluators that take keyword arguments)."""
        for key in ("now", *HELPERS):
            self[key]
        return dict(self)
