"""What expressions may ask about a contact's history, as of a moment (no look-ahead).

Opens and clicks that name neither a message nor a step count for the latest message sent to
the contact before the event (SPEC §3).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from journeyctl.engine.model import ContactState, Enrollment, Event, Message, Status
from journeyctl.engine.timing import after, zone
from journeyctl.spec.durations import Duration


@lru_cache(maxsize=256)
def _span(text: str) -> Duration:
    return Duration.parse(text)


def _events_until(state: ContactState, t: datetime) -> list[Event]:
    events = state.events
    idx = bisect_right(events, t, key=lambda e: e.at)
    return events[:idx]


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


def helpers(
    state: ContactState, t: datetime, enrollment: Enrollment | None, fallback_tz: str
) -> dict[str, Callable[..., Any]]:
    """Expression helpers bound to one contact at time `t` (and its current enrollment)."""
    tz = zone(state.contact.timezone, fallback_tz)

    def days_since(value: datetime | date | None) -> int | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return (t.astimezone(tz).date() - value.astimezone(tz).date()).days
        return (t.astimezone(tz).date() - value).days

    def event_count(name: str, within: str | None = None) -> int:
        events = _events_until(state, t)
        if within is None:
            return sum(1 for e in events if e.name == name)
        span = _span(within)
        return sum(1 for e in events if e.name == name and after(e.at, span, tz) >= t)

    def last_event(name: str) -> datetime | None:
        for e in reversed(_events_until(state, t)):
            if e.name == name:
                return e.at.astimezone(tz)
        return None

    def responded(kind: str, step: str) -> bool:
        seq = enrollment.sequence if enrollment else None
        for e in _events_until(state, t):
            if e.name != kind:
                continue
            m = target_message(state, e)
            if m is None or m.step != step or (seq is not None and m.sequence != seq):
                continue
            if enrollment is None or m.enrollment_id == enrollment.id:
                return True
        return False

    def sent(step: str) -> bool:
        return any(
            m.step == step and (enrollment is None or m.enrollment_id == enrollment.id)
            for m in _sent_until(state, t)
        )

    return {
        "days_since": days_since,
        "event_count": event_count,
        "last_event": last_event,
        "opened": lambda step: responded("opened", step),
        "clicked": lambda step: responded("clicked", step),
        "sent": sent,
    }
