"""Everything due for one contact at one instant, in order: its events (suppression, goals,
exits, wait_for, enrollment), date triggers, segment checks, then the due enrollments' steps."""

from __future__ import annotations

from bisect import insort
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from journeyctl.engine.agenda import (
    ACTIVE,
    BEFORE,
    DATES,
    EVENTS,
    SEGMENTS,
    event_at,
    may_enter,
    segment_alarm,
)
from journeyctl.engine.evaluate import Evaluator
from journeyctl.engine.facts import NEVER
from journeyctl.engine.model import (
    ContactState,
    Enrollment,
    Event,
    Outcome,
    StepResult,
    TriggerMark,
)
from journeyctl.engine.plan import SequencePlan
from journeyctl.engine.steps import Steps
from journeyctl.engine.timing import after
from journeyctl.engine.trace import inputs, note
from journeyctl.engine.triggers import reentry_allows
from journeyctl.spec.manifest import WAIT_FOR
from journeyctl.spec.models import DateTrigger, EventTrigger, SegmentTrigger
from journeyctl.spec.project import Project

_SUPPRESSING: Final = {"unsubscribed", "bounced", "complained"}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND: Final = timedelta(seconds=1)


def _whole_seconds(t: datetime) -> int:
    """`int(t.timestamp())` (truncated toward zero), by exact arithmetic on UTC instants: the
    float conversion is slow for what it gives, and every enrollment's id holds one. The same
    wherever the float is exact (to about the year 2500: ids stored before stay the same);
    past that the float rounds a fraction up, the arithmetic does not."""
    if t.tzinfo is not UTC:
        return int(t.timestamp())
    if t >= _EPOCH:
        since = t - _EPOCH  # days and seconds read off: a timedelta division makes big ints
        return since.days * 86400 + since.seconds
    return -((_EPOCH - t) // _SECOND)


def _run_order(e: Enrollment) -> tuple[datetime | None, datetime, str]:
    return (e.due_at, e.entered_at, e.sequence)


class Instant:
    """One instant of one contact (engine.advance walks them in time order)."""

    def __init__(
        self, project: Project, sequences: list[SequencePlan], steps: Steps, evaluator: Evaluator
    ) -> None:
        self.project = project
        self.by_id = steps.by_id
        self.steps = steps
        self.evaluator = evaluator
        self.on_event: dict[str, list[SequencePlan]] = {}
        for s in sequences:
            if type(s.trigger) is EventTrigger:
                self.on_event.setdefault(s.event, []).append(s)
        self.segments = [s for s in sequences if type(s.trigger) is SegmentTrigger]
        self.dates = [s for s in sequences if type(s.trigger) is DateTrigger]
        self._scopes: set[str] | None = None  # see _scope
        # The first check at or after each `existing: skip` segment sequence started
        # (Engine.start_sequence): who matches up to then was matching already.
        self.first_checks: dict[str, datetime] = {}

    def process(
        self,
        state: ContactState,
        t: datetime,
        now: datetime,
        tz: ZoneInfo,
        cv: dict[str, Any],
        result: StepResult,
        kinds: int,
    ) -> None:
        """Everything due at `t`, in order: events, date triggers, segment checks, steps.
        `kinds` (from `agenda`) says which of them are due, so the rest are not scanned."""
        cursor = state.cursor
        assert cursor is not None
        if kinds & EVENTS:
            # Events due now: a prefix of the pending ones, which are in time order.
            pending = state.pending
            n = 0
            while n < len(pending) and (pending[n].at if pending[n].at > cursor else cursor) <= t:
                n += 1
            due_events = pending[:n]
            state.pending = pending[n:]
            for ev in due_events:
                insort(state.events, ev, key=event_at)
                self._apply_event(state, ev, t, tz, cv, result)
        if kinds & DATES:
            alarms = state.alarms  # agenda has just refreshed them for this cursor
            for s in self.dates:
                if alarms.get(s.id) == t:
                    state.triggers.setdefault(s.id, TriggerMark()).checked_at = t
                    self._try_enroll(state, s, t, tz, cv, result, why="date", per_occurrence=True)
        # New events may void a horizon and bring a planned check back to this instant.
        if kinds & (SEGMENTS | EVENTS):
            for s in self.segments:
                if segment_alarm(state, s, cursor, t) == t and may_enter(state, s):
                    self._check_segment(state, s, t, tz, cv, result)
        # Events, dates and checks may enroll or wake enrollments at this instant.
        due = [
            e
            for e in state.enrollments
            if e.due_at is not None and e.due_at <= t and e.outcome is ACTIVE and e.held is None
        ]
        if len(due) > 1:
            due.sort(key=_run_order)
        for enr in due:
            self.steps.run(state, enr, t, now, tz, cv, result)

    def _apply_event(
        self,
        state: ContactState,
        ev: Event,
        t: datetime,
        tz: ZoneInfo,
        cv: dict[str, Any],
        result: StepResult,
    ) -> None:
        if ev.name in _SUPPRESSING:
            scope = self._scope(ev) if ev.name == "unsubscribed" else None
            # `{event: unsubscribed, channel: sms}`: no more SMS, email is fine (rules.suppression)
            key = f"unsubscribed:{scope}" if scope else ev.name
            state.suppressed.setdefault(key, ev.at)
        elif ev.name == "subscribed" and state.suppressed:
            scope = self._scope(ev)
            for key in list(state.suppressed):  # an explicit re-subscribe lifts it
                if key == f"unsubscribed:{scope}" or (not scope and key.startswith("unsub")):
                    del state.suppressed[key]
        for enr in state.enrollments:
            if not enr.is_active:
                continue
            seq = self.by_id.get(enr.sequence)
            if seq is None:
                continue
            # The goal wins over exit_on for the same event: a conversion is not an exit.
            if ev.name == seq.goal_event and ev.at >= enr.entered_at:
                within = seq.goal_within
                limit = after(enr.entered_at, within, tz) if within else None
                if limit is None or ev.at <= limit:
                    self.steps.end(state, enr, t, Outcome.GOAL, ev.name, result)
                    continue
            if ev.name in seq.exit_on:
                self.steps.end(state, enr, t, Outcome.EXITED, ev.name, result)
                continue
            if enr.waiting_since is not None and enr.position is not None:
                node = seq.nodes.get(enr.position)
                if (
                    node is not None
                    and node.kind == WAIT_FOR
                    and node.wait_event == ev.name
                    and ev.at >= enr.waiting_since
                ):
                    where = node.wait_where
                    if where and not self.evaluator.value(where, state, t, enr, cv, tz, event=ev):
                        continue
                    enr.waiting_since = None
                    enr.position = node.children.get("on_event") or node.next
                    enr.due_at = t
                    note(state, t, enr.sequence, "wait_for", f"{node.id}: {ev.name} arrived")
                    result.changed.append(enr)
        if ev.enrolls:
            # An event that reaches a tick late (an hourly export: a new contact arrives with
            # its `subscribed` event, after the contact's cursor) enrolls at its own time, as
            # simulate enrolls it: the sequence's times count from the event (SPEC §5).
            # Enrolling events are never older than events.max_age (older ones are history).
            t = ev.at if ev.at < t else t
            for s in self.on_event.get(ev.name, ()):
                where = s.where
                if where and not self.evaluator.value(where, state, t, None, cv, tz, event=ev):
                    note(
                        state,
                        t,
                        s.id,
                        "not-enrolled",
                        f"{ev.name}: `where` is false",
                        (("where", where),),
                    )
                    continue
                self._try_enroll(state, s, t, tz, cv, result, why=f"event {ev.name}", event=ev)

    def _check_segment(
        self,
        state: ContactState,
        s: SequencePlan,
        t: datetime,
        tz: ZoneInfo,
        cv: dict[str, Any],
        result: StepResult,
    ) -> None:
        sid = s.id
        mark = state.triggers.get(sid)
        if mark is None:
            mark = state.triggers[sid] = TriggerMark()
        compiled = s.horizon if state.skip_checks else None
        if compiled is not None:
            raw, horizon, reads = self.evaluator.until(compiled, s.segment, state, t, cv, tz)
        else:
            raw, horizon, reads = self.evaluator.value(s.segment, state, t, None, cv, tz), None, 0
        value = bool(raw)
        if horizon is not None and horizon > t:
            # Checks before the horizon would read this same value: skip to the first after it.
            timeline = s.timeline
            assert timeline is not None
            skip_to = None if horizon == NEVER else timeline.after(horizon - BEFORE)
            assert compiled is not None
            state.horizons[sid] = compiled.snapshot(state, reads, horizon, skip_to)
        else:
            state.horizons.pop(sid, None)
        was = mark.value
        mark.checked_at, mark.value = t, value
        # "Enroll contacts for whom the expression becomes true" (SPEC §2): on the edge only.
        if value and was is not True:
            if s.skip_existing:
                # Matching at the sequence's first check (or before it: a catch-up) is
                # matching already; without a recorded start, a first observation is.
                first = self.first_checks.get(sid)
                if (t <= first) if first is not None else (was is None):
                    note(state, t, sid, "not-enrolled", "matched when it started (existing: skip)")
                    return
            if s.unless_in and self._active_in(state, s) is not None:
                # Not consumed: checked again at the next fire (as run checks every fire).
                mark.value = None
                state.horizons.pop(sid, None)
            self._try_enroll(state, s, t, tz, cv, result, why="segment became true")

    def _try_enroll(
        self,
        state: ContactState,
        s: SequencePlan,
        t: datetime,
        tz: ZoneInfo,
        cv: dict[str, Any],
        result: StepResult,
        *,
        why: str,
        per_occurrence: bool = False,
        event: Event | None = None,
    ) -> None:
        sid = s.id
        if s.paused:
            # No entries while paused; what happened meanwhile (an event, a segment's edge, a
            # date's occurrence) is spent, so a resume never enrolls a backlog at once.
            if state.trace is not None:
                note(state, t, sid, "not-enrolled", f"{why}: paused")
            return
        if s.unless_in:
            other = self._active_in(state, s)
            if other is not None:
                if state.trace is not None:
                    note(state, t, sid, "not-enrolled", f"{why}: active in {other} (unless_in)")
                return
        if per_occurrence:
            # Date triggers enter once per occurrence: `reentry` only blocks overlapping runs.
            blocked = (
                "already_active"
                if any(e.is_active and e.sequence == sid for e in state.enrollments)
                else None
            )
        else:
            blocked = reentry_allows(sid, s.reentry, state.enrollments, t, tz)
        if blocked:
            if state.trace is not None:
                note(state, t, sid, "not-enrolled", f"{why}: {blocked}")
            return
        audience = s.audience
        if audience and not self.evaluator.value(audience, state, t, None, cv, tz, event=event):
            note(
                state,
                t,
                sid,
                "not-enrolled",
                f"{why}: audience is false",
                inputs(state, ("audience", audience), audience, cv),
            )
            return
        enr = Enrollment(
            id=f"{sid}:{state.contact.id}:{_whole_seconds(t)}",
            contact_id=state.contact.id,
            sequence=sid,
            version=s.version,
            entered_at=t,
            position=s.first,
            due_at=t,
        )
        state.enrollments.append(enr)
        result.changed.append(enr)
        if state.trace is not None:
            note(state, t, sid, "enrolled", why)

    def _active_in(self, state: ContactState, s: SequencePlan) -> str | None:
        """The first sequence of `s.unless_in` the contact is active in (None: none)."""
        for e in state.enrollments:
            if e.outcome is ACTIVE and e.sequence in s.unless_in:
                return e.sequence
        return None

    def _scope(self, ev: Event) -> str | None:
        """The channel or medium a (un)subscribe names, in lower case; None for all of them.
        A name that is neither a channel nor a medium of the project counts as all: an
        unsubscribe must never fail open on a typo (`SMS`, `sms `, `text`)."""
        named = ev.prop("channel")
        if not named:
            return None
        scope = str(named).strip().lower()
        if self._scopes is None:
            channels = self.project.settings.channels
            self._scopes = {name.lower() for name in channels} | {
                str(getattr(cfg, "medium", "")).lower() for cfg in channels.values()
            }
        return scope if scope in self._scopes else None
