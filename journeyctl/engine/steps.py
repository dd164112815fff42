"""Walking one enrollment's steps at one instant: sends (through the rules and the renderer),
waits, branches, splits, wait_for and exits, until it waits, is deferred, is held or ends."""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from journeyctl.engine import rules
from journeyctl.engine.agenda import ACTIVE, event_at
from journeyctl.engine.draw import bucket, pick_arm
from journeyctl.engine.evaluate import Evaluator
from journeyctl.engine.event_scope import trigger_event
from journeyctl.engine.failures import RenderFailure, contact_digest
from journeyctl.engine.located import describe_failure
from journeyctl.engine.model import (
    ContactState,
    Enrollment,
    Event,
    Message,
    Outcome,
    Status,
    StepResult,
)
from journeyctl.engine.plan import (
    PAUSED,
    SEQUENCE_REMOVED,
    STEP_REMOVED,
    SequencePlan,
    resume_position,
)
from journeyctl.engine.render import Renderer
from journeyctl.engine.timing import after, next_clock
from journeyctl.engine.trace import hm, inputs, note
from journeyctl.spec.durations import Duration
from journeyctl.spec.manifest import BRANCH, EXIT, SEND, SPLIT, WAIT, WAIT_FOR, StepPlan
from journeyctl.spec.models import Send, WaitUntil
from journeyctl.spec.project import Project

# Synthetic responses for `simulate --assume`: delay after the message they answer.
_ASSUME_DELAY: Final = {"opened": timedelta(hours=1), "clicked": timedelta(hours=2)}
_DEFAULT_ASSUME_DELAY: Final = timedelta(days=1)


@dataclass(frozen=True)
class Assumptions:
    """`--assume opened=0.3,clicked=0.05,purchased=0.02 --seed 42`: drawn per sent message."""

    rates: tuple[tuple[str, float], ...]
    seed: int = 0


class Steps:
    """The step walk of the engine (engine.advance) over the project's sequence plans."""

    def __init__(
        self,
        project: Project,
        sequences: list[SequencePlan],
        evaluator: Evaluator,
        renderer: Renderer | None,
        assumptions: Assumptions | None,
    ) -> None:
        self.project = project
        self.by_id = {s.id: s for s in sequences}
        self.evaluator = evaluator
        self.renderer = renderer
        self.assumptions = assumptions
        self.count = 0  # steps executed, for benchmarks
        # The last enrollment's triggering event (`_trigger`): its sends and branches, one
        # after another, read the same one.
        self._trigger_of: tuple[ContactState, Enrollment] | None = None
        self._trigger: Event | None = None

    def run(
        self,
        state: ContactState,
        enr: Enrollment,
        t: datetime,
        now: datetime,
        tz: ZoneInfo,
        cv: dict[str, Any],
        result: StepResult,
    ) -> None:
        seq = self.by_id.get(enr.sequence)
        if seq is None:
            self.end(state, enr, t, Outcome.EXITED, SEQUENCE_REMOVED, result)
            return
        if enr.version != seq.version:
            self._migrate(enr, seq)
        result.changed.append(enr)
        if seq.paused:
            self._hold_paused(state, enr, t, cv)
            return
        # Walk while the enrollment is due at this instant; waits move due_at forward.
        for _ in range(10_000):
            if enr.outcome is not ACTIVE or enr.due_at is None or enr.due_at > t:
                return
            if enr.position is None:
                self.end(state, enr, t, Outcome.COMPLETED, None, result)
                return
            node = seq.nodes.get(enr.position)
            if node is None:
                self.end(state, enr, t, Outcome.EXITED, STEP_REMOVED, result)
                return
            kind = node.kind
            at = enr.due_at
            self.count += 1
            if kind == SEND:
                if not self._send(state, seq, enr, node, at, now, tz, cv, result):
                    return
                enr.position = node.next
            elif kind == WAIT:
                enr.due_at = self._wait_until(node.wait, at, tz)
                enr.position = node.next
                if state.trace is not None:
                    note(state, at, seq.id, "wait", f"{node.id}: until {hm(enr.due_at, tz)}")
            elif kind == BRANCH:
                cond = node.branch_if
                trigger = self._trigger_event(state, seq.event, enr) if seq.event else None
                taken = bool(self.evaluator.value(cond, state, at, enr, cv, tz, event=trigger))
                arm = "then" if taken else "else"
                enr.position = node.children.get(arm) or node.next
                if state.trace is not None:
                    note(
                        state,
                        at,
                        seq.id,
                        "branch",
                        f"{node.id}: {cond} -> {arm}",
                        inputs(state, ("if", cond), cond, cv, ("value", taken)),
                    )
            elif kind == SPLIT:
                chosen = pick_arm(node.weights, state.contact.id, seq.id, node.id)
                enr.variant = chosen
                enr.position = node.children.get(chosen) or node.next
                if state.trace is not None:
                    note(state, at, seq.id, "split", f"{node.id}: arm {chosen}")
            elif kind == WAIT_FOR:
                if enr.waiting_since is None:
                    timeout = node.wait_timeout
                    assert timeout is not None
                    enr.waiting_since = at
                    enr.due_at = after(at, timeout, tz)
                    if state.trace is not None:
                        note(
                            state,
                            at,
                            seq.id,
                            "wait_for",
                            f"{node.id}: {node.wait_event} until {hm(enr.due_at, tz)}",
                        )
                    return
                enr.waiting_since = None  # timed out
                enr.position = node.children.get("on_timeout") or node.next
                if state.trace is not None:
                    note(state, at, seq.id, "wait_for", f"{node.id}: timed out")
            elif kind == EXIT:
                self.end(state, enr, at, Outcome.EXITED, node.exit_reason, result)
                return
        raise RuntimeError(f"{enr.id}: too many steps at one instant")  # pragma: no cover

    def _trigger_event(self, state: ContactState, event: str, enr: Enrollment) -> Event | None:
        """`trigger_event`, remembered for the last enrollment: a contact's events are only
        ever added, never before an equal time's first (insort), so the first enrolling event
        at its entry time stays the one found (one not found yet is looked for again)."""
        known = self._trigger_of
        if known is not None and known[1] is enr and known[0] is state:
            return self._trigger
        found = trigger_event(state, event, enr)
        if found is not None:
            self._trigger_of, self._trigger = (state, enr), found
        return found

    def _wait_until(self, w: Duration | WaitUntil | None, at: datetime, tz: ZoneInfo) -> datetime:
        end = wait_end(w, at, tz)
        # validate rejects `days: []`; a wait that can never end parks far in the future.
        return end if end is not None else at + timedelta(days=36500)

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
                note(
                    state,
                    at,
                    seq.id,
                    "deferred",
                    f"{step_id}: {verdict.reason} until {hm(verdict.until, tz)}",
                )
            return False
        status, reason = Status.SENT, None
        # Templates and conditions of an event-triggered sequence read the event (event_scope).
        trigger = self._trigger_event(state, seq.event, enr) if seq.event else None
        if verdict.action == "skip":
            status, reason = Status.SKIPPED, verdict.reason
        elif (
            marketing
            and seq.audience
            and not self.evaluator.value(seq.audience, state, at, enr, cv, tz, event=trigger)
        ):
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
                    event=None if trigger is None else self.evaluator.event_value(trigger, tz),
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
                note(state, at, seq.id, "sent", f"{step_id} via {channel}")
            if self.assumptions is not None:
                self._assume(state, msg)
        elif state.trace is not None:
            note(state, at, seq.id, "skipped", f"{step_id}: {reason}")
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
        enr.held = self.held_key(cv)
        enr.reason = f"render_error: {detail}"
        result.changed.append(enr)
        if state.trace is not None:
            note(state, msg.at, enr.sequence, "held", enr.reason)

    def _hold_paused(
        self, state: ContactState, enr: Enrollment, t: datetime, cv: dict[str, Any]
    ) -> None:
        """A paused sequence's due enrollment holds its place: held like a failed render, so
        it sleeps until the project changes (the resume), then goes on at its own due time,
        a send then late or not by the sequence's `late` policy. Its events still apply
        meanwhile (goals, exit_on, wait_for)."""
        enr.held = self.held_key(cv)
        enr.reason = PAUSED
        if state.trace is not None:
            note(state, t, enr.sequence, "held", f"{enr.position}: sequence paused")

    def held_key(self, cv: dict[str, Any]) -> str:
        """What a held enrollment waits to see change (`Enrollment.held`): the project's
        fingerprint (its files: an edit may be the fix), which the store's `wake_held` reads
        before the colon, and the contact's data."""
        return f"{self.project.manifest.fingerprint}:{contact_digest(cv)}"

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
            insort(state.pending, Event(msg.contact_id, name, msg.at + delay, props), key=event_at)

    def _migrate(self, enr: Enrollment, seq: SequencePlan) -> None:
        """Live edits (SPEC §5): continue at the same step id in the new version."""
        if enr.version == seq.version:
            return
        enr.position = resume_position(seq, enr.position)
        enr.version = seq.version

    def end(
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
            note(state, t, enr.sequence, str(outcome), reason or "")


def wait_end(w: Duration | WaitUntil | None, start: datetime, tz: ZoneInfo) -> datetime | None:
    """When a wait begun at `start` ends (None: never), in the contact's zone `tz`. The one
    rule the walk and `plan` (review.plan_waits) both time waits by."""
    if isinstance(w, Duration):
        return after(start, w, tz)
    if isinstance(w, WaitUntil):
        return next_clock(start, w.until, w.days, tz)
    return None
