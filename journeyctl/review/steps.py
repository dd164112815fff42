"""A sequence's steps as a reviewer reads them: each non-wait step with the waits before it,
the step it follows, where it sits (top level, a branch arm, a split arm) and when it runs.

Waits are folded into the step after them ("wait before `day7`: 3d"), because automatic wait
ids (`wait-2`) shift when a step is inserted and say nothing to a reviewer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from journeyctl.spec.durations import Duration
from journeyctl.spec.manifest import ManifestSequence
from journeyctl.spec.models import (
    WEEKDAYS,
    Branch,
    Exit,
    Send,
    Split,
    Step,
    Wait,
    WaitFor,
    WaitUntil,
    step_kind,
)


@dataclass(frozen=True)
class StepView:
    id: str
    kind: str
    step: Step
    context: str  # "" at the top level, else e.g. "`branch-1` else" or "`split-1` arm a"
    after: str | None  # the previous non-wait step of the same list; None: first of its list
    wait: str | None  # the waits right before it, described; None: no wait
    offset: Duration | None  # nominal time after entry; None when it depends on the contact


def describe_wait(value: Duration | WaitUntil) -> str:
    if isinstance(value, Duration):
        return str(value)
    text = f"until {value.until.strftime('%H:%M')}"
    days = list(value.days)
    if set(days) != set(WEEKDAYS):
        text += f" on {describe_days(days)}"
    return text


def describe_days(days: Iterable[str]) -> str:
    """`[mon, tue, wed, thu, fri]` -> `mon–fri`; other sets are listed."""
    idx = sorted(WEEKDAYS.index(d) for d in set(days))
    if len(idx) > 2 and idx == list(range(idx[0], idx[-1] + 1)):
        return f"{WEEKDAYS[idx[0]]}–{WEEKDAYS[idx[-1]]}"
    return ", ".join(WEEKDAYS[i] for i in idx)


def describe_offset(offset: Duration | None) -> str | None:
    if offset is None:
        return None
    if offset.is_zero:
        return "at entry"
    # days as days ("+7d", not "+1w"): reviewers count a welcome series in days
    rest = str(Duration(0, offset.seconds)) if offset.seconds else ""
    return f"+{f'{offset.days}d' if offset.days else ''}{rest} after entry"


def _add(offset: Duration | None, value: Duration | WaitUntil) -> Duration | None:
    if offset is None or not isinstance(value, Duration):
        return None  # `wait: {until: ...}` depends on when the contact got there
    return Duration(offset.days + value.days, offset.seconds + value.seconds)


def step_views(seq: ManifestSequence) -> dict[str, StepView]:
    """Every non-wait step of a sequence by id, in document order."""
    ids = {id(node.step): node.id for node in seq.steps.values()}
    out: dict[str, StepView] = {}

    def walk(steps: list[Step], context: str, offset: Duration | None) -> Duration | None:
        waits: list[str] = []
        prev: str | None = None
        for step in steps:
            if isinstance(step, Wait):
                waits.append(describe_wait(step.wait))
                offset = _add(offset, step.wait)
                continue
            sid = ids.get(id(step), "?")
            out[sid] = StepView(
                sid,
                step_kind(step) or "?",
                step,
                context,
                prev,
                " then ".join(waits) or None,
                offset,
            )
            waits, prev = [], sid
            offset = _children(step, sid, offset)
        return offset

    def _children(step: Step, sid: str, offset: Duration | None) -> Duration | None:
        if isinstance(step, Branch):
            ends = {
                walk(step.branch.then, f"`{sid}` then", offset),
                walk(step.branch.else_, f"`{sid}` else", offset),
            }
            return ends.pop() if len(ends) == 1 else None
        if isinstance(step, Split):
            ends = {
                walk(arm.steps, f"`{sid}` arm {name}", offset) for name, arm in step.split.items()
            }
            return ends.pop() if len(ends) == 1 else None
        if isinstance(step, WaitFor):
            walk(step.on_event, f"`{sid}` on {step.wait_for.event}", None)
            walk(step.on_timeout, f"`{sid}` on timeout", _add(offset, step.wait_for.timeout))
            return None
        return offset

    walk(seq.model.steps, "", Duration())
    return out


def describe_step(view: StepView) -> str:
    """What a step does, in a few words (for 'added' lines)."""
    step = view.step
    if isinstance(step, Send):
        what = f"send by {step.channel or 'the default channel'}"
        if step.subject:
            what += f", subject '{step.subject}'"
        elif step.body:
            what += f", body '{_short(step.body)}'"
        return what
    if isinstance(step, Exit):
        return f"exit with reason `{step.exit}`"
    if isinstance(step, Branch):
        return f"branch on `{step.branch.if_}`"
    if isinstance(step, Split):
        arms = " / ".join(f"{name} {_num(arm.weight)}" for name, arm in step.split.items())
        return f"A/B split {arms}"
    if isinstance(step, WaitFor):
        return f"wait for `{step.wait_for.event}` up to {step.wait_for.timeout}"
    return view.kind


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _short(text: str, limit: int = 60) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"
