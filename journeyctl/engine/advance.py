"""Move one contact forward to `now`: process its events, trigger checks and due steps in time
order. Pure: no I/O, no clock (now is an argument); `run` and `simulate` both call this.

Each step's time comes from the previous step's *scheduled* time, never from when a tick ran,
so the result is the same whatever the cadence of calls (SPEC §5).
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from journeyctl.engine import rules
from journeyctl.engine.draw import bucket, pick_arm
from journeyctl.engine.facts import NEVER, Facts, Scope
from journeyctl.engine.failures import RenderFailure, contact_digest
from journeyctl.engine.fastexpr import contact_only, fast_compile, reads, reads_event
from journeyctl.engine.horizon import Horizon
from journeyctl.engine.located import describe_failure, project_digest
from journeyctl.engine.model import (
    Contact,
    ContactState,
    Decision,
    Enrollment,
    Event,
    Message,
    Outcome,
    Status,
    StepResult,
    TriggerMark,
)
from journeyctl.engine.plan import (
    SEQUENCE_REMOVED,
    STEP_REMOVED,
    SequencePlan,
    plan_sequences,
    resume_position,
)
from journeyctl.engine.render import Renderer
from journeyctl.engine.timing import after, next_clock, zone
from journeyctl.engine.triggers import (
    anniversary_date,
    reentry_allows,
)
from journeyctl.spec.durations import Duration
from journeyctl.spec.expressions import compile_expr
from journeyctl.spec.manifest import BRANCH, EXIT, SEND, SPLIT, WAIT, WAIT_FOR, StepPlan
from journeyctl.spec.models import DateTrigger, EventTrigger, SegmentTrigger, Send, WaitUntil
from journeyctl.spec.project import Project

# Synthetic responses for `simulate --assume`: delay after the message they answer.
_ASSUME_DELAY: Final = {"opened": timedelta(hours=1), "clicked": timedelta(hours=2)}
_DEFAULT_ASSUME_DELAY: Final = timedelta(days=1)
_SUPPRESSING: Final = {"unsubscribed", "bounced", "complained"}
_BEFORE: Final = timedelta(microseconds=1)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND: Final = timedelta(seconds=1)
# What is due at an instant (Engine._agenda).
_EVENTS: Final = 1
_DATES: Final = 2
_SEGMENTS: Final = 4
_STEPS: Final = 8
_ACTIVE: Final = Outcome.ACTIVE  # `e.outcome is _ACTIVE`: Enrollment.is_active without the call


def _seen(source: str, cv: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The contact values an expression read, for `explain`."""
    r = reads(source)
    return tuple((f"contact.{n}", cv.get(n)) for n in (r.contact if r is not None else ()))


def _inputs(
    state: ContactState,
    labelled: tuple[str, Any],
    source: str,
    cv: dict[str, Any],
    *extra: tuple[str, Any],
) -> tuple[tuple[str, Any], ...]:
    """Inputs recorded with a decision; the expression is parsed only when explaining."""
    if state.trace is None:
        return ()
    return (labelled, *extra, *_seen(source, cv))


class _Expr:
    """What `Engine._eval` asks about an expression, asked once (three cached calls each time
    cost more than a dict lookup)."""

    def __init__(self, source: str) -> None:
        self.fast = fast_compile(source)
        self.contact_only = contact_only(source)
        self.reads_event = reads_event(source)


def _whole_seconds(t: datetime) -> int:
    """`int(t.timestamp())` (truncated toward zero), by exact arithmetic on UTC instants: the
    float conversion costs ~2,000 instructions, and every enrollment's id holds one. The same
    wherever the float is exact (to about the year 2500: ids stored before stay the same);
    past that the float rounds a fraction up, the arithmetic does not."""
    if t.tzinfo is not UTC:
        return int(t.timestamp())
    if t >= _EPOCH:
        return (t - _EPOCH) // _SECOND
    return -((_EPOCH - t) // _SECOND)


def _sooner(best: datetime | None, kinds: int, t: datetime, kind: int) -> tuple[datetime, int]:
    """`_agenda`'s running minimum with `t` (when `kind` is due) taken in; equal times add
    their kinds. One comparison for the usual later candidate."""
    if best is None:
        return t, kind
    if t <= best:
        return (best, kinds | kind) if t == best else (t, kind)
    return best, kinds


def _event_at(e: Event) -> datetime:
    return e.at


def _unique(events: list[Event]) -> list[Event]:
    """Re-imported duplicates (same natural key) are one event, as in the store (SPEC §3),
    in time order (equal times keep their import order, the first of duplicates kept). One
    contact's events, all in UTC: (name, at, props) is the natural key here. Compared among
    equal times rather than hashed: hashing an aware datetime asks its tzinfo for the offset."""
    ordered = sorted(events, key=_event_at)  # stable
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


def _run_order(e: Enrollment) -> tuple[datetime | None, datetime, str]:
    return (e.due_at, e.entered_at, e.sequence)


def _hm(t: datetime, tz: ZoneInfo) -> str:
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


@dataclass(frozen=True)
class Assumptions:
    """`--assume opened=0.3,clicked=0.05,purchased=0.02 --seed 42`: drawn per sent message."""

    rates: tuple[tuple[str, float], ...]
    seed: int = 0


@dataclass
class Engine:
    project: Project
    renderer: Renderer | None = None  # None: decide without rendering (fast plan/explain)
    assumptions: Assumptions | None = None
    sequences: list[SequencePlan] = field(init=False)
    steps: int = 0  # steps executed, for benchmarks

    def __post_init__(self) -> None:
        self._tz_name = self.project.settings.timezone
        self.sequences = plan_sequences(self.project.manifest)
        self._by_id = {s.id: s for s in self.sequences}
        self._on_event: dict[str, list[SequencePlan]] = {}
        for s in self.sequences:
            if type(s.trigger) is EventTrigger:
                self._on_event.setdefault(s.event, []).append(s)
        self._segments = [s for s in self.sequences if type(s.trigger) is SegmentTrigger]
        self._dates = [s for s in self.sequences if type(s.trigger) is DateTrigger]
        self._memo_of: dict[str, Any] | None = None  # see _contact_memo
        self._memo: dict[str, Any] = {}
        self._exprs: dict[str, _Expr] = {}
        self._digest: str | None = None  # see project_digest
        self._scopes: set[str] | None = None  # see _scope

    # --- public -------------------------------------------------------------------------

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
        state = ContactState(contact=contact, cursor=start - _BEFORE)
        if trace:
            state.trace = []
        # History (before start) counts in conditions but never enrolls (SPEC §4): it goes
        # straight to the processed events, which are never applied again.
        state.events = sorted([e for e in events if e.at < start], key=_event_at)
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
            if e.held is not None and e.outcome is _ACTIVE:
                self._rearm(e, cv, result)
        # In time order from here on (stable: equal times keep their import order), so the
        # next event is the first and those due are a prefix. Stores append in load order.
        state.pending.sort(key=_event_at)
        while True:
            t, kinds = self._agenda(state, tz)
            if t is None or t > until:
                return t
            self._process_at(state, t, t if now is None else now, tz, cv, result, kinds)
            if t > state.cursor:  # type: ignore[operator]
                state.cursor = t

    def next_due(self, state: ContactState, tz: ZoneInfo | None = None) -> datetime | None:
        """When this contact next needs the engine (None: never, unless new facts arrive)."""
        state.pending.sort(key=_event_at)  # as _walk keeps them
        return self._agenda(state, tz or self.zone_of(state))[0]

    def _agenda(self, state: ContactState, tz: ZoneInfo) -> tuple[datetime | None, int]:
        """The next due time and what is due then (`_EVENTS | _DATES | _SEGMENTS | _STEPS`).
        Kept as a running minimum: called at every instant, it allocates nothing."""
        cursor = state.cursor
        assert cursor is not None
        best: datetime | None = None
        kinds = 0
        pending = state.pending
        if pending:  # in time order (_walk): the first is the next
            at = pending[0].at
            best, kinds = (at if at > cursor else cursor), _EVENTS
        t: datetime | None
        for e in state.enrollments:
            t = e.due_at
            if t is not None and e.outcome is _ACTIVE and e.held is None:
                best, kinds = _sooner(best, kinds, t, _STEPS)
        for s in self._segments:
            if self._may_enter(state, s):
                t = self._segment_alarm(state, s, cursor)
                if t is not None:
                    best, kinds = _sooner(best, kinds, t, _SEGMENTS)
        alarms = state.alarms
        for s in self._dates:
            t = alarms.get(s.id, cursor)
            if t is not None and t <= cursor:  # not cached, or passed (None: never fires)
                t = self._next_date(state, s, tz)
            if t is not None:
                best, kinds = _sooner(best, kinds, t, _DATES)
        return best, kinds

    # --- one instant --------------------------------------------------------------------

    def _process_at(
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
        `kinds` (from `_agenda`) says which of them are due, so the rest are not scanned."""
        cursor = state.cursor
        assert cursor is not None
        if kinds & _EVENTS:
            # Events due now: a prefix of the pending ones, which are in time order (_walk).
            pending = state.pending
            n = 0
            while n < len(pending) and (pending[n].at if pending[n].at > cursor else cursor) <= t:
                n += 1
            due_events = pending[:n]
            state.pending = pending[n:]
            for ev in due_events:
                insort(state.events, ev, key=_event_at)
                self._apply_event(state, ev, t, tz, cv, result)
        if kinds & _DATES:
            alarms = state.alarms  # _agenda has just refreshed them for this cursor
            for s in self._dates:
                if alarms.get(s.id) == t:
                    state.triggers.setdefault(s.id, TriggerMark()).checked_at = t
                    self._try_enroll(state, s, t, tz, cv, result, why="date", per_occurrence=True)
        # New events may void a horizon and bring a planned check back to this instant.
        if kinds & (_SEGMENTS | _EVENTS):
            for s in self._segments:
                if self._segment_alarm(state, s, cursor, t) == t and self._may_enter(state, s):
                    self._check_segment(state, s, t, tz, cv, result)
        # Events, dates and checks may enroll or wake enrollments at this instant.
        due = [
            e
            for e in state.enrollments
            if e.due_at is not None and e.due_at <= t and e.outcome is _ACTIVE and e.held is None
        ]
        if len(due) > 1:
            due.sort(key=_run_order)
        for enr in due:
            self._run(state, enr, t, now, tz, cv, result)

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
            seq = self._by_id.get(enr.sequence)
            if seq is None:
                continue
            # The goal wins over exit_on for the same event: a conversion is not an exit.
            if ev.name == seq.goal_event and ev.at >= enr.entered_at:
                within = seq.goal_within
                limit = after(enr.entered_at, within, tz) if within else None
                if limit is None or ev.at <= limit:
                    self._end(state, enr, t, Outcome.GOAL, ev.name, result)
                    continue
            if ev.name in seq.exit_on:
                self._end(state, enr, t, Outcome.EXITED, ev.name, result)
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
                    if where and not self._eval(where, state, t, enr, cv, tz, event=ev):
                        continue
                    enr.waiting_since = None
                    enr.position = node.children.get("on_event") or node.next
                    enr.due_at = t
                    self._note(state, t, enr.sequence, "wait_for", f"{node.id}: {ev.name} arrived")
                    result.changed.append(enr)
        if ev.enrolls:
            # An event that reaches a tick late (an hourly export: a new contact arrives with
            # its `subscribed` event, after the contact's cursor) enrolls at its own time, as
            # simulate enrolls it: the sequence's times count from the event (SPEC §5).
            # Enrolling events are never older than events.max_age (older ones are history).
            t = ev.at if ev.at < t else t
            for s in self._on_event.get(ev.name, ()):
                where = s.where
                if where and not self._eval(where, state, t, None, cv, tz, event=ev):
                    self._note(
                        state,
                        t,
                        s.id,
                        "not-enrolled",
                        f"{ev.name}: `where` is false",
                        (("where", where),),
                    )
                    continue
                self._try_enroll(state, s, t, tz, cv, result, why=f"event {ev.name}")

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
            raw, horizon, reads = self._eval_until(compiled, s.segment, state, t, cv, tz)
        else:
            raw, horizon, reads = self._eval(s.segment, state, t, None, cv, tz), None, 0
        value = bool(raw)
        if horizon is not None and horizon > t:
            # Checks before the horizon would read this same value: skip to the first after it.
            timeline = s.timeline
            assert timeline is not None
            skip_to = None if horizon == NEVER else timeline.after(horizon - _BEFORE)
            assert compiled is not None
            state.horizons[sid] = compiled.snapshot(state, reads, horizon, skip_to)
        else:
            state.horizons.pop(sid, None)
        was = mark.value
        mark.checked_at, mark.value = t, value
        # "Enroll contacts for whom the expression becomes true" (SPEC §2): on the edge only.
        if value and was is not True:
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
    ) -> None:
        sid = s.id
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
                self._note(state, t, sid, "not-enrolled", f"{why}: {blocked}")
            return
        audience = s.audience
        if audience and not self._eval(audience, state, t, None, cv, tz):
            self._note(
                state,
                t,
                sid,
                "not-enrolled",
                f"{why}: audience is false",
                _inputs(state, ("audience", audience), audience, cv),
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
            self._note(state, t, sid, "enrolled", why)

    # --- walking the steps ----------------------------------------------------------------

    def _run(
        self,
        state: ContactState,
        enr: Enrollment,
        t: datetime,
        now: datetime,
        tz: ZoneInfo,
        cv: dict[str, Any],
        result: StepResult,
    ) -> None:
        seq = self._by_id.get(enr.sequence)
        if seq is None:
            self._end(state, enr, t, Outcome.EXITED, SEQUENCE_REMOVED, result)
            return
        if enr.version != seq.version:
            self._migrate(enr, seq)
        result.changed.append(enr)
        # Walk while the enrollment is due at this instant; waits move due_at forward.
        for _ in range(10_000):
            if enr.outcome is not _ACTIVE or enr.due_at is None or enr.due_at > t:
                return
            if enr.position is None:
                self._end(state, enr, t, Outcome.COMPLETED, None, result)
                return
            node = seq.nodes.get(enr.position)
            if node is None:
                self._end(state, enr, t, Outcome.EXITED, STEP_REMOVED, result)
                return
            kind = node.kind
            at = enr.due_at
            self.steps += 1
            if kind == SEND:
                if not self._send(state, seq, enr, node, at, now, tz, cv, result):
                    return
                enr.position = node.next
            elif kind == WAIT:
                enr.due_at = self._wait_until(node.wait, at, tz)
                enr.position = node.next
                if state.trace is not None:
                    self._note(state, at, seq.id, "wait", f"{node.id}: until {_hm(enr.due_at, tz)}")
            elif kind == BRANCH:
                cond = node.branch_if
                taken = bool(self._eval(cond, state, at, enr, cv, tz))
                arm = "then" if taken else "else"
                enr.position = node.children.get(arm) or node.next
                if state.trace is not None:
                    self._note(
                        state,
                        at,
                        seq.id,
                        "branch",
                        f"{node.id}: {cond} -> {arm}",
                        _inputs(state, ("if", cond), cond, cv, ("value", taken)),
                    )
            elif kind == SPLIT:
                chosen = pick_arm(node.weights, state.contact.id, seq.id, node.id)
                enr.variant = chosen
                enr.position = node.children.get(chosen) or node.next
                if state.trace is not None:
                    self._note(state, at, seq.id, "split", f"{node.id}: arm {chosen}")
            elif kind == WAIT_FOR:
                if enr.waiting_since is None:
                    timeout = node.wait_timeout
                    assert timeout is not None
                    enr.waiting_since = at
                    enr.due_at = after(at, timeout, tz)
                    if state.trace is not None:
                        self._note(
                            state,
                            at,
                            seq.id,
                            "wait_for",
                            f"{node.id}: {node.wait_event} until {_hm(enr.due_at, tz)}",
                        )
                    return
                enr.waiting_since = None  # timed out
                enr.position = node.children.get("on_timeout") or node.next
                if state.trace is not None:
                    self._note(state, at, seq.id, "wait_for", f"{node.id}: timed out")
            elif kind == EXIT:
                self._end(state, enr, at, Outcome.EXITED, node.exit_reason, result)
                return
        raise RuntimeError(f"{enr.id}: too many steps at one instant")  # pragma: no cover

    def _wait_until(self, w: Duration | WaitUntil | None, at: datetime, tz: ZoneInfo) -> datetime:
        if isinstance(w, Duration):
            return after(at, w, tz)
        assert isinstance(w, WaitUntil)
        nxt = next_clock(at, w.until, w.days, tz)
        # validate rejects `days: []`; a wait that can never end parks far in the future.
        return nxt if nxt is not None else at + timedelta(days=36500)

    def _send(
        self,
        state: ContactState,
        seq: SequencePlan,
        enr: Enrollment,
        node: StepPlan,
        at: datetime,
        now: datetime,
        tz: ZoneInfo,
        cv: dict[str, Any],
        result: StepResult,
    ) -> bool:
        """Apply the rules; record a sent or skipped message. False when deferred."""
        step, channel, step_id = node.send, node.channel, node.send_id
        send_rules = seq.rules.get(step_id)
        assert step is not None and send_rules is not None
        medium, marketing = send_rules.medium, send_rules.marketing
        verdict = rules.evaluate(at, state=state, rules=send_rules, tz=tz)
        if verdict.action == "defer":
            assert verdict.until is not None
            if enr.deferred_from is None:
                enr.deferred_from, enr.deferred_by = at, verdict.reason
            enr.due_at = verdict.until
            if state.trace is not None:
                self._note(
                    state,
                    at,
                    seq.id,
                    "deferred",
                    f"{step_id}: {verdict.reason} until {_hm(verdict.until, tz)}",
                )
            return False
        status, reason = Status.SENT, None
        if verdict.action == "skip":
            status, reason = Status.SKIPPED, verdict.reason
        elif marketing and seq.audience and not self._eval(seq.audience, state, at, enr, cv, tz):
            # Checked at entry and again at every marketing send: who left the audience
            # since (e.g. withdrew consent) gets nothing more.
            status, reason = Status.SKIPPED, "audience"
        elif self._is_late(seq, at, now):
            status, reason = Status.SKIPPED, "late"
        rendered = None
        failure: RenderFailure | None = None
        if status is Status.SENT and self.renderer is not None:
            try:
                rendered = self.renderer.render(
                    step,
                    sequence=seq.id,
                    channel=channel,
                    contact=state.contact,
                    contact_value=cv,
                    now=at,
                    marketing=marketing,
                    tz=tz,
                    enrollment=enr.id,
                )
            except RenderFailure as exc:
                failure = exc
                status, reason = Status.SKIPPED, "render_error"
        contact = state.contact
        to = contact.email if medium == "email" else contact.phone
        msg = Message(
            _key=None, contact_id=contact.id, sequence=seq.id, step=step_id, channel=channel,
            at=at, status=status, enrollment_id=enr.id, is_marketing=marketing, reason=reason,
            deferred_from=enr.deferred_from, deferred_by=enr.deferred_by, variant=enr.variant,
            subject=None if rendered is None else rendered.subject,
            text=None if rendered is None else rendered.text,
            html=None if rendered is None else rendered.html,
            to=to,
            unsubscribe_url=None if rendered is None or not marketing else rendered.unsubscribe_url,
        )  # fmt: skip
        state.messages.append(msg)
        result.messages.append(msg)
        if failure is not None:
            self._render_failed(state, seq, enr, step, msg, failure, cv, result)
            return False
        enr.deferred_from = enr.deferred_by = None
        if status is Status.SENT:
            if marketing:
                insort(state.cap_times, at)
            if state.trace is not None:
                self._note(state, at, seq.id, "sent", f"{step_id} via {channel}")
            if self.assumptions is not None:
                self._assume(state, msg)
        elif state.trace is not None:
            self._note(state, at, seq.id, "skipped", f"{step_id}: {reason}")
        return True

    def _render_failed(
        self,
        state: ContactState,
        seq: SequencePlan,
        enr: Enrollment,
        step: Send,
        msg: Message,
        failure: RenderFailure,
        cv: dict[str, Any],
        result: StepResult,
    ) -> None:
        """SPEC §5: this contact's message fails with a located reason (skipped with reason
        `render_error` in simulate, failed in the ledger); the enrollment waits at the step
        (its deferral kept) until the contact's data or the project changes, then tries
        again."""
        detail = describe_failure(self.project, seq.id, step, failure, cv)
        if result.failures is None:
            result.failures = []
        result.failures.append((msg, detail))
        enr.due_at = msg.at  # the retry runs the step at its own time (late rules apply)
        enr.held = self._held_key(cv)
        enr.reason = f"render_error: {detail}"
        result.changed.append(enr)
        if state.trace is not None:
            self._note(state, msg.at, enr.sequence, "held", enr.reason)

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

    def _rearm(self, enr: Enrollment, cv: dict[str, Any], result: StepResult) -> None:
        """A held enrollment goes on when what made it fail may have changed."""
        if enr.held == self._held_key(cv):
            return
        enr.held = enr.reason = None
        result.changed.append(enr)
        if result.rearmed is None:
            result.rearmed = []
        result.rearmed.append(enr)

    def _held_key(self, cv: dict[str, Any]) -> str:
        """What a held enrollment waits to see change (`Enrollment.held`; the store's
        `wake_held` reads the part before the colon)."""
        return f"{self.project_digest()}:{contact_digest(cv)}"

    def project_digest(self) -> str:
        """The sequences' versions, journey.yaml and every template file: a held contact is
        tried again when this changes (an edit may be the fix)."""
        if self._digest is None:
            self._digest = project_digest(self.project, [s.version for s in self.sequences])
        return self._digest

    def _is_late(self, seq: SequencePlan, at: datetime, now: datetime) -> bool:
        if now == at:  # simulate, and any tick that runs at the due time
            return False
        policy = seq.model.late or (None if seq.model.transactional else self.project.settings.late)
        if policy is None or policy.max == "always":
            return False
        assert isinstance(policy.max, Duration)
        return now - at > policy.max.approx()

    def _assume(self, state: ContactState, msg: Message) -> None:
        if self.assumptions is None:
            return
        seed = str(self.assumptions.seed)
        opened = False
        for name, p in self.assumptions.rates:
            x = bucket(seed, msg.contact_id, msg.sequence, msg.enrollment_id, msg.step, name)
            if name == "clicked" and not opened and "opened" in dict(self.assumptions.rates):
                continue  # a click needs an open
            if x >= p:
                continue
            opened = opened or name == "opened"
            delay = _ASSUME_DELAY.get(name, _DEFAULT_ASSUME_DELAY)
            props = (("message_id", msg.key),) if name in _ASSUME_DELAY else ()
            # In time order, after any at the same time (as if appended, then sorted stably).
            insort(state.pending, Event(msg.contact_id, name, msg.at + delay, props), key=_event_at)

    # --- helpers ------------------------------------------------------------------------

    def _migrate(self, enr: Enrollment, seq: SequencePlan) -> None:
        """Live edits (SPEC §5): continue at the same step id in the new version."""
        if enr.version == seq.version:
            return
        enr.position = resume_position(seq, enr.position)
        enr.version = seq.version

    def _end(
        self,
        state: ContactState,
        enr: Enrollment,
        t: datetime,
        outcome: Outcome,
        reason: str | None,
        result: StepResult,
    ) -> None:
        enr.outcome, enr.ended_at, enr.reason = outcome, t, reason
        enr.due_at = None
        enr.held = None  # (a goal or exit while held ends the wait too)
        enr.waiting_since = None
        result.changed.append(enr)
        if state.trace is not None:
            self._note(state, t, enr.sequence, str(outcome), reason or "")

    def _may_enter(self, state: ContactState, s: SequencePlan) -> bool:
        """Cheap pre-check so contacts that can never re-enter don't wake up for segment checks."""
        if not s.enters_once:
            return True
        sid = s.id
        return not any(e.sequence == sid for e in state.enrollments)

    def _next_date(self, state: ContactState, s: SequencePlan, tz: ZoneInfo) -> datetime | None:
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

    def _segment_alarm(
        self, state: ContactState, s: SequencePlan, cursor: datetime, at: datetime | None = None
    ) -> datetime | None:
        """The next check of a segment trigger that could change anything (see horizon).
        `at`: the instant being processed, when its events have just been applied."""
        sid = s.id
        a = state.alarms.get(sid)
        if a is None or a <= cursor:  # not cached, or passed: recompute
            a = self._next_check(state, s)
        known = state.horizons.get(sid)
        if known is None or a is None:
            return a
        compiled, timeline = s.horizon, s.timeline
        assert compiled is not None and timeline is not None
        if not compiled.unchanged(state, known):
            del state.horizons[sid]  # new events, messages or attributes: check as planned
            if at is not None and a < at:
                # The fires skipped so far saw the old facts; the first one that may see the
                # new ones is at or after `at` (a fire at that very instant included).
                a = state.alarms[sid] = timeline.after(at - _BEFORE)
            return a
        return a if a >= known.horizon else known.skip_to

    def _next_check(self, state: ContactState, s: SequencePlan) -> datetime | None:
        sid = s.id
        cursor = state.cursor
        assert cursor is not None
        cached = state.alarms.get(sid)
        if cached is not None and cached > cursor:
            return cached
        timeline = s.timeline
        assert timeline is not None
        fire = timeline.after(cursor)
        state.alarms[sid] = fire
        return fire

    def _eval(
        self,
        source: str,
        state: ContactState,
        t: datetime,
        enr: Enrollment | None,
        cv: dict[str, Any],
        tz: ZoneInfo,
        *,
        event: Event | None = None,
    ) -> Any:
        known = self._exprs.get(source)
        if known is None:
            known = self._exprs[source] = _Expr(source)
        memo = None
        if event is None and known.contact_only:  # e.g. every audience of the stock library
            memo = self._contact_memo(cv)
            if source in memo:
                return memo[source]
        values: dict[str, Any] = {"contact": cv}
        if event is not None and known.reads_event:
            values["event"] = {
                "name": event.name,
                "at": event.at.astimezone(tz),
                **dict(event.props),
            }
        scope = Scope(Facts(state, t, enr, tz), values)
        fast = known.fast
        try:
            value = fast(scope) if fast is not None else compile_expr(source)(**scope.complete())
            if memo is not None:
                memo[source] = value
            return value
        except Exception as exc:
            # A contact whose data breaks an expression (e.g. an empty date compared with a
            # number, `days_since(last_event('purchased')) < 7` before any purchase) must
            # not stop everyone else: the condition is false, and explain says why.
            self._note(
                state,
                t,
                enr.sequence if enr else None,
                "expression-error",
                f"{source}: {type(exc).__name__}: {exc}",
            )
            return None

    def _contact_memo(self, cv: dict[str, Any]) -> dict[str, Any]:
        """Values of contact-only expressions for the contact being walked (`cv`)."""
        if self._memo_of is not cv:
            self._memo_of, self._memo = cv, {}
        return self._memo

    def _eval_until(
        self,
        evaluate: Horizon,
        source: str,
        state: ContactState,
        t: datetime,
        cv: dict[str, Any],
        tz: ZoneInfo,
    ) -> tuple[Any, datetime | None, int]:
        """A segment condition's value, its horizon (None: unknown, check every time) and
        which facts it read (engine.horizon)."""
        try:
            return evaluate({"contact": cv}, Facts(state, t, None, tz))
        except Exception:
            return self._eval(source, state, t, None, cv, tz), None, 0  # notes the error

    def _note(
        self,
        state: ContactState,
        t: datetime,
        seq: str | None,
        kind: str,
        detail: str,
        inputs: tuple[tuple[str, Any], ...] = (),
    ) -> None:
        if state.trace is not None:
            state.trace.append(Decision(t, seq, kind, detail, inputs))
