"""What `plan` adds about contacts already in flight: waits they keep, and `migrate:` to write.

1. Waits. The engine times a wait when an enrollment reaches it and stores the due time; an
   edit to the wait (or to a `wait_for`'s timeout) does not move it (engine.advance: `_migrate`
   changes the position and version only). For each in-flight enrollment of a changed
   sequence, the due time it keeps is compared with the one the current files would give from
   the same start, and the differences are shown per step with that rule.
2. `migrate:` lines. An enrollment at a step the current files removed exits `step_removed`
   (engine.plan.fate); the suggestion maps the step to where its flow went on: the next step of
   the base flow that still exists (with `--base`), else a similarly named step.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from journeyctl.engine.model import ContactState, Enrollment
from journeyctl.engine.plan import SequencePlan, fate, resume_position
from journeyctl.engine.steps import wait_end
from journeyctl.spec.manifest import BRANCH, SPLIT, WAIT, WAIT_FOR, ManifestSequence, StepPlan
from journeyctl.spec.models import WaitUntil

WAIT_RULE = (
    "a wait is timed when it is reached: contacts already waiting keep their due time; "
    "those who reach it from now on wait {wait}"
)
_EXAMPLES = 3


@dataclass
class WaitChange:
    """Contacts at `step` whose stored due time the current files would set otherwise."""

    step: str
    kind: str  # "wait" or "wait_for"
    wait: str  # the current files' wait (a duration, "until 10:00", or the timeout)
    contacts: int = 0
    examples: list[tuple[str, datetime, datetime]] = field(default_factory=list)  # id, kept, new

    @property
    def rule(self) -> str:
        return WAIT_RULE.format(wait=self.wait)


def _wait_text(step: StepPlan) -> str:
    w = step.wait
    if isinstance(w, WaitUntil):
        return f"until {w.until:%H:%M}"
    return str(w)


def _at_once(seq: SequencePlan, start: str | None, target: str) -> bool:
    """Whether flow from `start` reaches `target` at the same instant (through branches and
    splits only)."""
    todo, seen = [start], set()
    while todo:
        sid = todo.pop()
        if sid is None or sid in seen:
            continue
        if sid == target:
            return True
        seen.add(sid)
        node = seq.nodes.get(sid)
        if node is not None and node.kind in (BRANCH, SPLIT):
            todo += [c if c is not None else node.next for c in node.children.values()]
    return False


def _wait_before(seq: SequencePlan, position: str) -> StepPlan | None:
    waits = [n for n in seq.nodes.values() if n.kind == WAIT and n.next == position]
    return waits[0] if len(waits) == 1 else None


def _kept_and_new(
    seq: SequencePlan, state: ContactState, enr: Enrollment, tz: ZoneInfo
) -> tuple[StepPlan, str, datetime, datetime] | None:
    """(the step timed, its kind, the due time kept, the current files' due time) or None."""
    position = resume_position(seq, enr.position)
    node = seq.nodes.get(position) if position is not None else None
    if node is None or enr.due_at is None:
        return None
    if node.kind == WAIT_FOR and enr.waiting_since is not None and node.wait_timeout:
        timed_out = wait_end(node.wait_timeout, enr.waiting_since, tz)
        if timed_out is None or timed_out == enr.due_at:
            return None
        return (node, "wait_for", enr.due_at, timed_out)
    wait = _wait_before(seq, node.id)
    if wait is None:
        return None
    mine = [m for m in state.messages if m.enrollment_id == enr.id]
    if not mine:
        return None
    last = max(mine, key=lambda m: m.at)
    sent = seq.nodes.get(last.step)
    if sent is None or not _at_once(seq, sent.next, wait.id):
        return None  # the wait's start is not known from the current flow
    kept = enr.deferred_from or enr.due_at
    new = wait_end(wait.wait, last.at, tz)
    if new is None or new == kept:
        return None
    return wait, "wait", kept, new


def wait_changes(
    seq: SequencePlan, states: list[tuple[ContactState, ZoneInfo]]
) -> list[WaitChange]:
    """Per step, the in-flight enrollments of `seq` (made with another version) that keep a
    due time the current files would set otherwise."""
    out: dict[str, WaitChange] = {}
    for state, tz in states:
        for enr in state.enrollments:
            if not enr.is_active or enr.sequence != seq.id or enr.version == seq.version:
                continue
            if fate(seq, enr.position)[0] == "exit":
                continue
            found = _kept_and_new(seq, state, enr, tz)
            if found is None:
                continue
            node, kind, kept, new = found
            step = resume_position(seq, enr.position) or node.id
            text = str(node.wait_timeout) if kind == "wait_for" else _wait_text(node)
            change = out.setdefault(step, WaitChange(step, kind, text))
            change.contacts += 1
            if len(change.examples) < _EXAMPLES:
                change.examples.append((enr.contact_id, kept.astimezone(tz), new.astimezone(tz)))
    order = {sid: i for i, sid in enumerate(seq.nodes)}
    return sorted(out.values(), key=lambda c: order.get(c.step, len(order)))


def suggest_migrate(
    seq: SequencePlan, removed: list[str], base: ManifestSequence | None
) -> dict[str, str | None]:
    """`migrate:` entries for steps the current files removed: where each one's flow went on
    (the base flow's next step that still exists), else a similarly named step, else None
    (unknown: the reviewer picks)."""
    out: dict[str, str | None] = {}
    for step in removed:
        target: str | None = None
        if base is not None and step in base.steps:
            nxt = base.steps[step].next
            seen: set[str] = set()
            # the first later step of the base flow that the current files keep; never a wait
            # (an enrollment sits at the step after one, its due time already set)
            while nxt is not None and nxt not in seen:
                seen.add(nxt)
                node = base.steps.get(nxt)
                kept = seq.nodes.get(nxt)
                if kept is not None and kept.kind != WAIT and (node is None or node.kind != WAIT):
                    break
                nxt = node.next if node is not None else None
            target = nxt
        if target is None:
            close = difflib.get_close_matches(step, list(seq.nodes), n=1, cutoff=0.6)
            target = close[0] if close else None
        out[step] = target
    return out


def migrate_line(seq: SequencePlan, suggested: dict[str, str | None]) -> str:
    """The `migrate:` line to write: the sequence's own entries and the suggested ones."""
    entries = {**seq.migrate, **{k: v for k, v in suggested.items() if v is not None}}
    return "migrate: {" + ", ".join(f"{k}: {v}" for k, v in entries.items()) + "}"
