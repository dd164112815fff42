"""`report` numbers: per sequence, step and split arm — sent, delivered, opened, clicked, goal
conversions, unsubscribes, with rates. Pure over rows, so it is tested without a database.

Attribution (SPEC §3): an open, click, bounce or unsubscribe names its message (`message_id`)
or step (`step`); otherwise it counts for the contact's latest message sent before the event.
A goal counts for the last message of the enrollment before the goal was reached.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from journeyctl.reporting.abtest import ArmTally, Comparison, compare_tallies
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
    id: int = 0  # the ledger row's id: the order the messages were decided in


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


StepKey = tuple[str, str, str | None]  # sequence, step, split arm
# Attribution's counts per step row (Attribution.steps): what each index adds to StepStats.
OPENED, CLICKED, UNSUBSCRIBED, BOUNCED, UNDELIVERED, GOALS = range(6)
_COUNTED = {"opened": OPENED, "clicked": CLICKED, "unsubscribed": UNSUBSCRIBED,
            "bounced": BOUNCED}  # fmt: skip


@dataclass
class Attribution:
    """What responses and goals add to the counts: per step row (StepKey) the indexes above
    (UNDELIVERED: bounced after the channel took it, taken off `delivered`); per split arm
    (sequence, arm) the enrollments that clicked; the responses with no message."""

    steps: dict[StepKey, list[int]] = field(default_factory=dict)
    clicked_arms: Counter[tuple[str, str]] = field(default_factory=Counter)
    unattributed: int = 0

    def row(self, m: MessageRow) -> list[int]:
        key = (m.sequence, m.step, m.variant)
        c = self.steps.get(key)
        if c is None:
            c = self.steps[key] = [0] * 6
        return c

    def add(self, other: Attribution, sign: int = 1) -> None:
        for key, counts in other.steps.items():
            mine = self.steps.setdefault(key, [0] * 6)
            for i, n in enumerate(counts):
                mine[i] += sign * n
        for arm, n in other.clicked_arms.items():
            self.clicked_arms[arm] += sign * n
        self.unattributed += sign * other.unattributed


def attribute(
    messages: Iterable[MessageRow],
    events: Iterable[EventRow],
    enrollments: Iterable[EnrollmentRow],
    since: datetime | None,
    *,
    per_contact: bool = False,
) -> Attribution:
    """Which message each response and each goal counts for, over a set of rows.

    `per_contact`: as if each contact's rows were given alone (what `report` does as it reads
    the store contact by contact): a `message_id` naming another contact's message, and a
    message naming another contact's enrollment, count for nothing. Otherwise the rows are
    taken as one whole (reporting.db_rows says when the two differ, and settles it)."""
    sent = [m for m in messages if m.state in _SENT_STATES]
    by_key = {m.key: m for m in sent}
    by_contact: dict[str, list[MessageRow]] = defaultdict(list)
    for m in sorted(sent, key=lambda m: (m.at, m.key)):
        by_contact[m.contact_id].append(m)
    times = {c: [m.at for m in ms] for c, ms in by_contact.items()}

    def find(ev: EventRow) -> MessageRow | None:
        if ev.message_id is not None:
            hit = by_key.get(ev.message_id)
            if per_contact and hit is not None and hit.contact_id != ev.contact_id:
                return None
            return hit
        mine = by_contact.get(ev.contact_id, [])
        i = bisect.bisect_right(times.get(ev.contact_id, []), ev.at)
        for m in reversed(mine[:i]):
            if ev.step is None or m.step == ev.step:
                return m
        return None

    def included(m: MessageRow) -> bool:
        return since is None or m.at >= since

    def enrollment_of(contact_id: str, enrollment_id: str) -> str | tuple[str, str]:
        return (contact_id, enrollment_id) if per_contact else enrollment_id

    out = Attribution()
    # A message counts once as opened, once as clicked, ...: which responses it has had, not
    # how many or in which order, so the events may come in any order.
    responded: dict[str, set[str]] = {}
    for ev in events:
        if ev.event not in _RESPONSES:
            continue
        hit = find(ev)
        if hit is None:
            out.unattributed += 1
            continue
        if not included(hit):
            continue
        seen = responded.setdefault(hit.key, set())
        if ev.event in seen:
            continue
        seen.add(ev.event)
        c = out.row(hit)
        c[_COUNTED[ev.event]] += 1
        # A bounce: the channel took the message, the mailbox did not.
        if ev.event == "bounced" and hit.state == "sent":
            c[UNDELIVERED] += 1
    by_enrollment: dict[str | tuple[str, str], list[MessageRow]] = defaultdict(list)
    for m in sent:
        if included(m):
            by_enrollment[enrollment_of(m.contact_id, m.enrollment_id)].append(m)
    clicked = {
        owner
        for owner, ms in by_enrollment.items()
        if any("clicked" in responded.get(m.key, ()) for m in ms)
    }
    for e in enrollments:
        owner = enrollment_of(e.contact_id, e.id)
        if e.outcome == "goal" and e.ended_at is not None:
            ended = e.ended_at
            before = [m for m in by_enrollment.get(owner, []) if m.at <= ended]
            if before:
                out.row(max(before, key=lambda m: (m.at, m.key)))[GOALS] += 1
        if e.variant is not None and (since is None or e.entered_at >= since) and owner in clicked:
            out.clicked_arms[(e.sequence, e.variant)] += 1
    return out


@dataclass
class PageCounts:
    """What `report --format html` draws beside the report: messages decided to send per
    local day and sequence, enrollments' outcomes per sequence (both from `since`), and the
    contacts whose stories it tells."""

    per_day: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    outcomes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    story_contacts: list[str] = field(default_factory=list)


class Counts:
    """The report's numbers gathered as rows come, in any order and in any number of parts:
    what is kept follows the steps, arms and days, not the rows. `add` the rows (all of a
    contact's in one call, or several contacts'), then `report`."""

    def __init__(
        self, since: datetime | None, day_of: Callable[[datetime], str] | None = None
    ) -> None:
        self.since = since
        self.day_of = day_of  # local day of an instant: the page's per-day buckets, when drawn
        self.steps: dict[StepKey, StepStats] = {}
        # The first message of each row (the smallest ledger id) created the row in the
        # whole-list report: it gives the row's is_email and orders rows that tie.
        self.first: dict[StepKey, int] = {}
        self.arms: dict[tuple[str, str], list[int]] = {}  # (sequence, arm) -> [n, goals]
        self.goal_sequences: set[str] = set()
        self.recorded: set[str] = set()
        self.attribution = Attribution()
        self.per_day: dict[str, Counter[str]] = defaultdict(Counter)
        self.outcomes: dict[str, Counter[str]] = defaultdict(Counter)
        self._first_sent: dict[str, tuple[int, str]] = {}  # sequence -> (ledger id, contact)

    def add(
        self,
        messages: Sequence[MessageRow],
        events: Sequence[EventRow],
        enrollments: Sequence[EnrollmentRow],
        *,
        per_contact: bool = True,
    ) -> None:
        """Rows of whole contacts (`per_contact`: each contact's attribution on its own; see
        `attribute`). `MessageRow.id` orders the messages (the ledger's ids)."""
        for m in messages:
            self._message(m)
        for e in enrollments:
            self._enrollment(e)
        self.recorded.update(ev.event for ev in events)
        self.attribution.add(
            attribute(messages, events, enrollments, self.since, per_contact=per_contact)
        )

    def _message(self, m: MessageRow) -> None:
        if m.state not in _SENT_STATES:
            return
        first = self._first_sent.get(m.sequence)
        if first is None or m.id < first[0]:
            self._first_sent[m.sequence] = (m.id, m.contact_id)
        if self.since is not None and m.at < self.since:
            return
        key = (m.sequence, m.step, m.variant)
        s = self.steps.get(key)
        if s is None:
            s = self.steps[key] = StepStats(m.sequence, m.step, m.variant, is_email=m.is_email)
            self.first[key] = m.id
        elif m.id < self.first[key]:
            self.first[key] = m.id
            s.is_email = m.is_email
        s.sent += 1
        s.delivered += m.state == "sent"
        s.first_at = m.at if s.first_at is None else min(s.first_at, m.at)
        if self.day_of is not None:
            self.per_day[self.day_of(m.at)][m.sequence] += 1

    def _enrollment(self, e: EnrollmentRow) -> None:
        if e.outcome == "goal":
            self.goal_sequences.add(e.sequence)
        if self.since is not None and e.entered_at < self.since:
            return
        self.outcomes[e.sequence][e.outcome] += 1
        if e.variant is not None:
            arm = self.arms.setdefault((e.sequence, e.variant), [0, 0])
            arm[0] += 1
            arm[1] += e.outcome == "goal"

    def page_counts(self, stories: int = 6) -> PageCounts:
        """The page's counts; its stories: per sequence, the contact first sent a message of
        it (in the ledger's order), the sequences in that order, at most `stories` contacts."""
        picked: dict[str, None] = {}
        for _, contact in sorted(self._first_sent.values()):
            if len(picked) >= stories:
                break
            picked.setdefault(contact)
        return PageCounts(self.per_day, self.outcomes, list(picked))

    def report(
        self,
        thresholds: ReportThresholds,
        *,
        step_order: dict[str, list[str]] | None = None,
        goal_sequences: set[str] | None = None,
    ) -> Report:
        """The report of everything added (once: the responses are moved into the rows)."""
        a = self.attribution
        for key, c in a.steps.items():
            s = self.steps[key]  # responses and goals count only for messages counted as sent
            s.opened += c[OPENED]
            s.clicked += c[CLICKED]
            s.unsubscribed += c[UNSUBSCRIBED]
            s.bounced += c[BOUNCED]
            s.delivered -= c[UNDELIVERED]
            s.goals += c[GOALS]
        a.steps.clear()
        report = Report(self.since, thresholds, unattributed=a.unattributed)
        by_first = sorted(self.steps, key=self.first.__getitem__)
        report.steps = _ordered([self.steps[k] for k in by_first], step_order or {})
        arms: dict[str, dict[str, ArmTally]] = defaultdict(dict)
        for (seq, name), (n, goals) in self.arms.items():
            arms[seq][name] = ArmTally(n, goals, a.clicked_arms[(seq, name)])
        report.comparisons = compare_tallies(
            arms, thresholds, self.goal_sequences if goal_sequences is None else goal_sequences
        )
        report.advice = advise(report.steps, thresholds, frozenset(self.recorded))
        return report


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
    """Numbers, A/B comparisons and advice of rows given whole (the messages in the order
    they were decided). `step_order` (sequence -> step ids in flow order) orders the rows;
    without it steps appear in the order they were first sent."""
    counts = Counts(since)
    ordered = [replace(m, id=i) for i, m in enumerate(messages)]
    counts.add(ordered, events, enrollments, per_contact=False)
    return counts.report(thresholds, step_order=step_order, goal_sequences=goal_sequences)


def _ordered(steps: list[StepStats], order: dict[str, list[str]]) -> list[StepStats]:
    def key(s: StepStats) -> tuple[str, int, str, str]:
        ids = order.get(s.sequence, [])
        pos = ids.index(s.step) if s.step in ids else len(ids)
        first = s.first_at.isoformat() if s.first_at else ""
        return (s.sequence, pos, first if pos == len(ids) else "", s.variant or "")

    return sorted(steps, key=key)
