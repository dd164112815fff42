"""The scheduling rules for every send, in SPEC §2 order: suppression -> consent (a declared
`consent_<medium>` column, marketing only) -> send window and quiet hours -> frequency cap ->
compliance (kr night rule). Pure: time is an argument.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from journeyctl.engine.model import ContactState, Status
from journeyctl.engine.timing import (
    in_span,
    local_day_and_time,
    local_time,
    next_clock,
    span_end,
    weekday_name,
)
from journeyctl.spec.models import ProjectSettings, QuietHours, Send, SendWindow, Sequence

# 정보통신망법 시행령: 21:00-08:00 needs separate consent
KR_NIGHT: Final = (time(21, 0), time(8, 0))
_MAX_ROUNDS: Final = 32


@dataclass(slots=True, init=False)  # not frozen (a frozen __init__ is slower); never mutated
class Verdict:
    action: str  # send | defer | skip
    reason: str | None = None
    until: datetime | None = None

    def __init__(  # compiled, unlike a generated one (engine/model.py)
        self, action: str, reason: str | None = None, until: datetime | None = None
    ) -> None:
        self.action = action
        self.reason = reason
        self.until = until


SEND: Final = Verdict("send")


def suppression(
    state: ContactState, medium: str, is_marketing: bool, channel: str = ""
) -> str | None:
    """Why this contact must not get this message at all, or None. An `unsubscribed` event
    naming a channel (or a medium: `{event: unsubscribed, channel: sms}`) suppresses only
    that one (Engine._apply_event keys it `unsubscribed:<name>`)."""
    sup = state.suppressed
    if not sup:
        return _no_address(state, medium)
    if "bounced" in sup:
        return "bounced"  # a hard bounce blocks transactional mail too (SPEC §2)
    if is_marketing:
        if "unsubscribed" in sup:
            return "unsubscribed"
        if "complained" in sup:
            return "complained"
        if f"unsubscribed:{medium}" in sup or f"unsubscribed:{channel.lower()}" in sup:
            return "unsubscribed"
    return _no_address(state, medium)


def _no_address(state: ContactState, medium: str) -> str | None:
    c = state.contact
    if medium == "email" and not c.email:
        return "no_address"
    if medium == "sms" and not c.phone:
        return "no_address"
    return None


def _window(t: datetime, window: SendWindow, tz: ZoneInfo) -> datetime | None:
    day, clock = local_day_and_time(t, tz)
    if weekday_name(day) in window.days and in_span(clock, window.start, window.end):
        return None
    # Next opening: the window's start on an allowed day (a wrapping window may be open now
    # from yesterday's start; in_span above already covered that).
    return next_clock(t, window.start, window.days, tz)


def _cap_until(state: ContactState, t: datetime, max_n: int, per: timedelta) -> datetime | None:
    times = state.cap_times  # sorted times of marketing messages sent
    if len(times) < max_n:  # fewer sent in all than the cap allows in any window
        return None
    hi = bisect_right(times, t)
    lo = bisect_right(times, t - per)
    n = hi - lo
    if n < max_n:
        return None
    # The count drops below max once the (n-max+1)-th oldest in the window ages out.
    return times[lo + n - max_n] + per


@dataclass(slots=True)
class SendRules:
    """What the rules need to know about one send step: fixed for a loaded project, so the
    engine builds it once per step (`for_step`) rather than at every send."""

    medium: str
    marketing: bool
    window: SendWindow | None
    quiet: QuietHours | None  # marketing only
    cap_max: int  # 0: no cap (marketing only)
    cap_per: timedelta
    cap_skips: bool  # on_cap: skip (else defer)
    night: bool  # kr: SMS/push ads between 21:00 and 08:00 need the night-consent attribute
    night_consent: str
    channel: str = ""
    # The declared bool column holding consent to marketing on this medium (`consent_email`,
    # `consent_sms`, `consent_push`), re-read at every marketing send: only True sends.
    consent: str | None = None

    @classmethod
    def for_step(
        cls, settings: ProjectSettings, seq: Sequence, step: Send, medium: str, channel: str = ""
    ) -> SendRules:
        marketing = seq.is_marketing
        consent = f"consent_{medium}"
        cap = settings.frequency_cap if marketing else None
        night = "kr" in settings.compliance and seq.ad and medium != "email"
        return cls(
            medium=medium,
            marketing=marketing,
            window=step.window or seq.window,
            quiet=settings.quiet_hours if marketing else None,
            cap_max=cap.max if cap is not None else 0,
            cap_per=cap.per.approx() if cap is not None else timedelta(0),
            cap_skips=(step.on_cap or seq.on_cap) == "skip",
            night=night,
            night_consent=settings.contacts.night_consent,
            channel=channel,
            # a bool column only: a string `Y`/`N` one is the audience's to read
            consent=consent
            if marketing and settings.contacts.fields.get(consent) == "bool"
            else None,
        )

    timed: bool = False  # whether any rule depends on the time (else suppression and consent only)
    # The quiet hours' bounds, read at every marketing send (a pydantic model's attribute is a
    # dictionary lookup, a compiled dataclass's a load). None: no quiet hours.
    quiet_start: time | None = field(default=None, init=False)
    quiet_end: time | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.timed = bool(self.window or self.quiet or self.cap_max or self.night)
        if self.quiet is not None:
            self.quiet_start, self.quiet_end = self.quiet.start, self.quiet.end


def evaluate(t: datetime, *, state: ContactState, rules: SendRules, tz: ZoneInfo) -> Verdict:
    """Decide send / defer (until when, why) / skip (why) for a send due at `t`."""
    reason = suppression(state, rules.medium, rules.marketing, rules.channel)
    if reason:
        return Verdict("skip", reason)
    if rules.consent is not None and state.contact.attrs.get(rules.consent) is not True:
        return Verdict("skip", "no_consent")  # withdrawn (or never given) since it entered
    if not rules.timed:
        return SEND
    first: Verdict | None = None
    current = t
    for _ in range(_MAX_ROUNDS):
        verdict = _first_blocker(current, state, rules, tz)
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
    t: datetime, state: ContactState, rules: SendRules, tz: ZoneInfo
) -> Verdict | None:
    window = rules.window
    until: datetime | None
    if window is not None:
        until = _window(t, window, tz)
        if until is not None:
            return Verdict("defer", "window", until)
        if until is None and not window.days:
            return Verdict("skip", "no_send_time")
    qs, qe = rules.quiet_start, rules.quiet_end
    local: time | None = None
    if qs is not None and qe is not None:
        local = local_time(t, tz)
        if in_span(local, qs, qe):
            return Verdict("defer", "quiet_hours", span_end(t, qs, qe, tz))
    if rules.cap_max:
        until = _cap_until(state, t, rules.cap_max, rules.cap_per)
        if until is not None:
            if rules.cap_skips:
                return Verdict("skip", "frequency_cap")
            return Verdict("defer", "frequency_cap", until)
    if rules.night and not state.contact.attrs.get(rules.night_consent):
        if local is None:
            local = local_time(t, tz)
        if in_span(local, *KR_NIGHT):
            return Verdict("defer", "night_consent", span_end(t, *KR_NIGHT, tz))
    return None


__all__ = ["SEND", "SendRules", "Status", "Verdict", "evaluate", "suppression"]
