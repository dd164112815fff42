"""The scheduling rules for every send, in SPEC §2 order: suppression -> send window and quiet
hours -> frequency cap -> compliance (kr night rule). Pure: time is an argument.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from journeyctl.engine.model import ContactState, Status
from journeyctl.engine.timing import in_span, next_clock, span_end, weekday_name
from journeyctl.spec.models import ProjectSettings, Send, SendWindow, Sequence

KR_NIGHT = (time(21, 0), time(8, 0))  # 정보통신망법 시행령: 21:00-08:00 needs separate consent
_MAX_ROUNDS = 32


@dataclass(frozen=True, slots=True)
class Verdict:
    action: str  # send | defer | skip
    reason: str | None = None
    until: datetime | None = None


SEND = Verdict("send")


def suppression(state: ContactState, medium: str, is_marketing: bool) -> str | None:
    """Why this contact must not get this message at all, or None."""
    sup = state.suppressed
    if "bounced" in sup:
        return "bounced"  # a hard bounce blocks transactional mail too (SPEC §2)
    if is_marketing:
        if "unsubscribed" in sup:
            return "unsubscribed"
        if "complained" in sup:
            return "complained"
    c = state.contact
    if medium == "email" and not c.email:
        return "no_address"
    if medium == "sms" and not c.phone:
        return "no_address"
    return None


def _window(t: datetime, window: SendWindow, tz: ZoneInfo) -> datetime | None:
    local = t.astimezone(tz)
    if weekday_name(local.date()) in window.days and in_span(
        local.time(), window.start, window.end
    ):
        return None
    # Next opening: the window's start on an allowed day (a wrapping window may be open now
    # from yesterday's start; in_span above already covered that).
    return next_clock(t, window.start, window.days, tz)


def _cap_until(state: ContactState, t: datetime, max_n: int, per: timedelta) -> datetime | None:
    times = state.cap_times  # sorted times of marketing messages sent
    hi = bisect_right(times, t)
    lo = bisect_right(times, t - per)
    n = hi - lo
    if n < max_n:
        return None
    # The count drops below max once the (n-max+1)-th oldest in the window ages out.
    return times[lo + n - max_n] + per


def evaluate(
    t: datetime,
    *,
    state: ContactState,
    settings: ProjectSettings,
    seq: Sequence,
    step: Send,
    medium: str,
    tz: ZoneInfo,
) -> Verdict:
    """Decide send / defer (until when, why) / skip (why) for a send due at `t`."""
    marketing = seq.is_marketing
    reason = suppression(state, medium, marketing)
    if reason:
        return Verdict("skip", reason)
    window = step.window or seq.window
    quiet = settings.quiet_hours if marketing else None
    cap = settings.frequency_cap if marketing else None
    night = "kr" in settings.compliance and seq.ad and medium != "email"
    first: Verdict | None = None
    current = t
    for _ in range(_MAX_ROUNDS):
        verdict = _first_blocker(current, state, settings, window, quiet, cap, night, step, seq, tz)
        if verdict is None:
            return SEND if first is None else Verdict("defer", first.reason, current)
        if verdict.action == "skip":
            return verdict
        if first is None:
            first = verdict
        assert verdict.until is not None and verdict.until > current
        current = verdict.until
    return Verdict("skip", "no_send_time")  # rules that never agree on a time (see validate)


def _first_blocker(
    t: datetime,
    state: ContactState,
    settings: ProjectSettings,
    window: SendWindow | None,
    quiet: object,
    cap: object,
    night: bool,
    step: Send,
    seq: Sequence,
    tz: ZoneInfo,
) -> Verdict | None:
    if window is not None:
        until = _window(t, window, tz)
        if until is not None:
            return Verdict("defer", "window", until)
        if until is None and not window.days:
            return Verdict("skip", "no_send_time")
    qh = settings.quiet_hours
    if quiet is not None and qh is not None:
        local = t.astimezone(tz).time()
        if in_span(local, qh.start, qh.end):
            return Verdict("defer", "quiet_hours", span_end(t, qh.start, qh.end, tz))
    fc = settings.frequency_cap
    if cap is not None and fc is not None:
        until = _cap_until(state, t, fc.max, fc.per.approx())
        if until is not None:
            if (step.on_cap or seq.on_cap) == "skip":
                return Verdict("skip", "frequency_cap")
            return Verdict("defer", "frequency_cap", until)
    if night and not state.contact.attrs.get(settings.contacts.night_consent):
        local = t.astimezone(tz).time()
        if in_span(local, *KR_NIGHT):
            return Verdict("defer", "night_consent", span_end(t, *KR_NIGHT, tz))
    return None


__all__ = ["SEND", "Status", "Verdict", "evaluate", "suppression"]
