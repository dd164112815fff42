"""`report` numbers: per sequence, step and split arm — sent, delivered, opened, clicked, goal
conversions, unsubscribes, with rates. Pure over rows, so it is tested without a database.

Attribution (SPEC §3): an open, click, bounce or unsubscribe names its message (`message_id`)
or step (`step`); otherwise it counts for the contact's latest message sent before the event.
A goal counts for the last message of the enrollment before the goal was reached.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from journeyctl.reporting.abtest import Comparison, compare_arms
from journeyctl.reporting.advice import Advice, advise
from journeyctl.spec.models import ReportThresholds

_SENT_STATES = ("sent", "planned", "attempting", "retry", "failed")  # decided to send
_RESPONSES = ("opened", "clicked", "unsubscribed", "bounced")


@dataclass(frozen=True, slots=True)
class MessageRow:
    key: str
    contact_id: str
    sequence: str
    step: str
    enrollment_id: str
    at: datetime
    state: str  # ledger state: sent (delivered) | failed | retry | planned | attempting | skipped
    variant: str | None = None
    is_email: bool = True  # opens are tracked for email only


@dataclass(frozen=True, slots=True)
class EventRow:
    contact_id: str
    event: str
    at: datetime
    message_id: str | None = None
    step: str | None = None


@dataclass(frozen=True, slots=True)
class EnrollmentRow:
    id: str
    contact_id: str
    sequence: str
    outcome: str  # active | completed | exited | goal
    entered_at: datetime
    ended_at: datetime | None = None
    variant: str | None = None


@dataclass
class StepStats:
    sequence: str
    step: str
    variant: str | None
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    goals: int = 0
    unsubscribed: int = 0
    bounced: int = 0
    is_email: bool = True
    first_at: datetime | None = None

    def rate(self, n: int) -> float | None:
        return n / self.delivered if self.delivered else None

    @property
    def open_rate(self) -> float | None:
        return self.rate(self.opened) if self.is_email else None

    @property
    def click_rate(self) -> float | None:
        return self.rate(self.clicked)

    @property
    def goal_rate(self) -> float | None:
        return self.rate(self.goals)

    @property
    def unsubscribe_rate(self) -> float | None:
        return self.rate(self.unsubscribed)

    def as_dict(self) -> dict[str, object]:
        return {
            "sequence": self.sequence,
            "step": self.step,
            "variant": self.variant,
            "sent": self.sent,
            "delivered": self.delivered,
            "opened": self.opened,
            "clicked": self.clicked,
            "goals": self.goals,
            "unsubscribed": self.unsubscribed,
            "bounced": self.bounced,
            "open_rate": _round(self.open_rate),
            "click_rate": _round(self.click_rate),
            "goal_rate": _round(self.goal_rate),
            "unsubscribe_rate": _round(self.unsubscribe_rate),
        }


@dataclass
class Report:
    since: datetime | None
    thresholds: ReportThresholds
    steps: list[StepStats] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    advice: list[Advice] = field(default_factory=list)
    unattributed: int = 0  # responses with no message before them

    def as_dict(self) -> dict[str, object]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "thresholds": self.thresholds.model_dump(),
            "steps": [s.as_dict() for s in self.steps],
            "ab_tests": [c.as_dict() for c in self.comparisons],
            "advice": [a.as_dict() for a in self.advice],
            "unattributed_events": self.unattributed,
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


class _Attributor:
    """Finds the message an event refers to (by id, by step, or the latest before it)."""

    def __init__(self, messages: list[MessageRow]) -> None:
        self.by_key = {m.key: m for m in messages}
        self.by_contact: dict[str, list[MessageRow]] = defaultdict(list)
        for m in sorted(messages, key=lambda m: (m.at, m.key)):
            self.by_contact[m.contact_id].append(m)
        self.times = {c: [m.at for m in ms] for c, ms in self.by_contact.items()}

    def find(self, ev: EventRow) -> MessageRow | None:
        if ev.message_id is not None:
            return self.by_key.get(ev.message_id)
        mine = self.by_contact.get(ev.contact_id, [])
        i = bisect.bisect_right(self.times.get(ev.contact_id, []), ev.at)
        for m in reversed(mine[:i]):
            if ev.step is None or m.step == ev.step:
                return m
        return None


def build_report(
    messages: list[MessageRow],
    events: list[EventRow],
    enrollments: list[EnrollmentRow],
    thresholds: ReportThresholds,
    *,
    since: datetime | None = None,
    step_order: dict[str, list[str]] | None = None,
    goal_sequences: set[str] | None = None,
) -> Report:
    """Numbers, A/B comparisons and advice. `step_order` (sequence -> step ids in flow order)
    orders the rows; without it steps appear in the order they were first sent."""
    sent = [m for m in messages if m.state in _SENT_STATES]
    attributor = _Attributor(sent)
    included = [m for m in sent if since is None or m.at >= since]
    stats: dict[tuple[str, str, str | None], StepStats] = {}

    def row(m: MessageRow) -> StepStats:
        key = (m.sequence, m.step, m.variant)
        s = stats.get(key)
        if s is None:
            s = stats[key] = StepStats(m.sequence, m.step, m.variant, is_email=m.is_email)
        return s

    for m in included:
        s = row(m)
        s.sent += 1
        s.delivered += m.state == "sent"
        s.first_at = m.at if s.first_at is None else min(s.first_at, m.at)
    keep = {m.key for m in included}
    responded: dict[str, set[str]] = defaultdict(set)  # message key -> responses seen
    unattributed = 0
    for ev in sorted(events, key=lambda e: e.at):
        if ev.event not in _RESPONSES:
            continue
        hit = attributor.find(ev)
        if hit is None:
            unattributed += 1
            continue
        m = hit
        if m.key not in keep or ev.event in responded[m.key]:
            continue  # a message counts once as opened, once as clicked, ...
        responded[m.key].add(ev.event)
        s = row(m)
        if ev.event == "opened":
            s.opened += 1
        elif ev.event == "clicked":
            s.clicked += 1
        elif ev.event == "unsubscribed":
            s.unsubscribed += 1
        elif ev.event == "bounced":
            s.bounced += 1
            s.delivered -= m.state == "sent"  # the channel took it, the mailbox did not
    by_enrollment: dict[str, list[MessageRow]] = defaultdict(list)
    for m in included:
        by_enrollment[m.enrollment_id].append(m)
    for e in enrollments:
        if e.outcome != "goal" or e.ended_at is None:
            continue
        before = [m for m in by_enrollment.get(e.id, []) if m.at <= e.ended_at]
        if before:
            row(max(before, key=lambda m: (m.at, m.key))).goals += 1
    report = Report(since, thresholds, unattributed=unattributed)
    report.steps = _ordered(list(stats.values()), step_order or {})
    if goal_sequences is None:
        goal_sequences = {e.sequence for e in enrollments if e.outcome == "goal"}
    report.comparisons = compare_arms(
        included, enrollments, attributor, responded, thresholds, goal_sequences, since
    )
    report.advice = advise(report.steps, thresholds, frozenset(ev.event for ev in events))
    return report


def _ordered(steps: list[StepStats], order: dict[str, list[str]]) -> list[StepStats]:
    def key(s: StepStats) -> tuple[str, int, str, str]:
        ids = order.get(s.sequence, [])
        pos = ids.index(s.step) if s.step in ids else len(ids)
        first = s.first_at.isoformat() if s.first_at else ""
        return (s.sequence, pos, first if pos == len(ids) else "", s.variant or "")

    return sorted(steps, key=key)
