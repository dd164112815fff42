"""Move one contact forward to `now`: process its events, trigger checks and due steps in time
order. Pure: no I/O, no clock (now is an argument); `run` and `simulate` both call this.

Each step's time comes from the previous step's *scheduled* time, never from when a tick ran,
so the result is the same whatever the cadence of calls (SPEC §5). What is due when is
engine.agenda, one instant engine.instant, the step walk engine.steps, conditions
engine.evaluate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from journeyctl.engine.agenda import ACTIVE, BEFORE, agenda, event_at
from journeyctl.engine.evaluate import Evaluator
from journeyctl.engine.event_scope import EventFields
from journeyctl.engine.instant import Instant
from journeyctl.engine.model import Contact, ContactState, Enrollment, Event, Message, StepResult
from journeyctl.engine.plan import SequencePlan, plan_sequences
from journeyctl.engine.render import Renderer
from journeyctl.engine.steps import Assumptions, Steps
from journeyctl.engine.timing import zone
from journeyctl.spec.project import Project

__all__ = ["Assumptions", "Engine", "by_contact"]


def _unique(events: list[Event]) -> list[Event]:
    """Re-imported duplicates (same natural key) are one event, as in the store (SPEC §3),
    in time order (equal times keep their import order, the first of duplicates kept). One
    contact's events, all in UTC: (name, at, props) is the natural key here. Compared among
    equal times rather than hashed: hashing an aware datetime asks its tzinfo for the offset."""
    ordered = sorted(events, key=event_at)  # stable
    out: list[Event] = []
    same_time: list[Event] = []  # those kept at the time of the last one
    for e in ordered:
        if same_time and e.at == same_time[0].at:
            if any(k.name == e.name and k.props == e.props for k in same_time):
                continue
            same_time.append(e)
        else:
            same_time = [e]
        out.append(e)
    return out


def by_contact(events: Iterable[Event]) -> dict[str, list[Event]]:
    """Events grouped by contact id, each group in the given order (compiled: simulate does
    this for every event before the workers start)."""
    grouped: dict[str, list[Event]] = {}
    for ev in events:
        group = grouped.get(ev.contact_id)
        if group is None:
            grouped[ev.contact_id] = [ev]
        else:
            group.append(ev)
    return grouped


@dataclass
class Engine:
    project: Project
    renderer: Renderer | None = None  # None: decide without rendering (fast plan/explain)
    assumptions: Assumptions | None = None
    sequences: list[SequencePlan] = field(init=False)

    def __post_init__(self) -> None:
        self._tz_name = self.project.settings.timezone
        self.sequences = plan_sequences(self.project.manifest)
        evaluator = Evaluator(EventFields(self.project.settings))
        self._steps = Steps(
            self.project, self.sequences, evaluator, self.renderer, self.assumptions
        )
        self._instant = Instant(self.project, self.sequences, self._steps, evaluator)

    @property
    def steps(self) -> int:
        """Steps executed, for benchmarks."""
        return self._steps.count

    @steps.setter
    def steps(self, value: int) -> None:
        self._steps.count = value

    def start_sequence(self, sid: str, started: datetime) -> None:
        """An `existing: skip` segment sequence started at `started` (run: the first tick
        that saw it, recorded in the database; simulate: --start): who matches at its first
        check at or after then was already matching and does not enter."""
        for s in self._instant.segments:
            if s.id == sid and s.skip_existing:
                timeline = s.timeline
                assert timeline is not None
                first = timeline.after(started - BEFORE)
                if first is not None:
                    self._instant.first_checks[sid] = first

    def segment_matches(self, sid: str, state: ContactState, t: datetime) -> bool:
        """Whether segment sequence `sid`'s condition holds for this contact at `t` (plan:
        how many a first check would enroll)."""
        for s in self._instant.segments:
            if s.id == sid:
                cv = state.contact.as_template_value()
                tz = self.zone_of(state)
                return bool(self._instant.evaluator.value(s.segment, state, t, None, cv, tz))
        return False

    def skip_existing(self) -> list[str]:
        """The `existing: skip` segment sequences (Engine.start_sequence)."""
        return [s.id for s in self._instant.segments if s.skip_existing]

    def zone_of(self, state: ContactState) -> ZoneInfo:
        return zone(state.contact.timezone, self._tz_name)

    def advance(self, state: ContactState, now: datetime) -> StepResult:
        """Process everything due for this contact up to and including `now`."""
        assert state.cursor is not None, "the store sets a new contact's cursor"
        result = StepResult()
        result.next_due = self._walk(state, now, now, result)
        return result

    def replay(self, state: ContactState, until: datetime) -> StepResult:
        """Every instant up to `until`, each decided exactly as a tick running at that very
        instant decides it (`now` = the instant): `simulate`'s per-contact loop. Equal to
        calling `advance(state, t)` at each successive `next_due` t, without the store round
        trip in between (the run == simulate tests prove it)."""
        assert state.cursor is not None, "the caller sets a new contact's cursor"
        result = StepResult()
        state.skip_checks = True  # nothing reaches this state but the events already given
        result.next_due = self._walk(state, until, None, result)
        return result

    def replay_contact(
        self,
        contact: Contact,
        events: Sequence[Event],
        start: datetime,
        last: datetime,
        trace: bool = False,
    ) -> tuple[list[Message], ContactState]:
        """`simulate`'s unit of work: one contact from `start` through `last`. Returns the
        messages in [start, last] that the ledger keeps (the first decision per idempotency
        key) and the final state (its enrollments)."""
        for sid in self.skip_existing():
            if sid not in self._instant.first_checks:
                self.start_sequence(sid, start)  # simulate: the sequence starts at --start
        state = ContactState(contact=contact, cursor=start - BEFORE)
        if trace:
            state.trace = []
        # History (before start) counts in conditions but never enrolls (SPEC §4): it goes
        # straight to the processed events, which are never applied again.
        state.events = sorted([e for e in events if e.at < start], key=event_at)
        state.pending = _unique([e for e in events if e.at >= start])
        kept: list[Message] = []
        # What the idempotency key hashes (the contact is this one): no key is made here.
        keys: set[tuple[str, str, str]] = set()
        for m in self.replay(state, last).messages:
            key = (m.sequence, m.enrollment_id, m.step)
            if key not in keys:
                keys.add(key)
                if start <= m.at:
                    kept.append(m)
        return kept, state

    def _walk(
        self, state: ContactState, until: datetime, now: datetime | None, result: StepResult
    ) -> datetime | None:
        """Process due instants up to `until`; `now` None means punctual (now = each instant).
        Returns the next due time after them."""
        tz = self.zone_of(state)
        cv = state.contact.as_template_value()
        for e in state.enrollments:
            if e.held is not None and e.outcome is ACTIVE:
                self._rearm(e, cv, result)
        # In time order from here on (stable: equal times keep their import order), so the
        # next event is the first and those due are a prefix. Stores append in load order.
        state.pending.sort(key=event_at)
        instant = self._instant
        segments, dates = instant.segments, instant.dates
        while True:
            t, kinds = agenda(state, tz, segments, dates)
            if t is None or t > until:
                return t
            instant.process(state, t, t if now is None else now, tz, cv, result, kinds)
            if t > state.cursor:  # type: ignore[operator]
                state.cursor = t

    def next_due(self, state: ContactState, tz: ZoneInfo | None = None) -> datetime | None:
        """When this contact next needs the engine (None: never, unless new facts arrive)."""
        state.pending.sort(key=event_at)  # as _walk keeps them
        instant = self._instant
        return agenda(state, tz or self.zone_of(state), instant.segments, instant.dates)[0]

    def _rearm(self, enr: Enrollment, cv: dict[str, Any], result: StepResult) -> None:
        """A held enrollment goes on when what made it fail may have changed."""
        if enr.held == self._steps.held_key(cv):
            return
        enr.held = enr.reason = None
        result.changed.append(enr)
        if result.rearmed is None:
            result.rearmed = []
        result.rearmed.append(enr)

    def project_digest(self) -> str:
        """What a held enrollment's key starts with (the store's `wake_held` reads it): the
        project's fingerprint (spec.manifest)."""
        return self.project.manifest.fingerprint
