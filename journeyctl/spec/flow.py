"""A sequence's step tree flattened into addressable steps (spec.manifest.StepPlan) with `next`
pointers.

Every step gets an id: a send's id is its value; other steps take an explicit `id:` or an
automatic `<kind>-<n>` (n counts that kind in document order). Enrollments are positioned at
the *next step to run* by id, so live edits continue at the same id (SPEC §5).
"""

from __future__ import annotations

from dataclasses import dataclass

from journeyctl.spec.manifest import StepPlan
from journeyctl.spec.models import KeyPath, ProjectSettings, Send, Sequence, Step, step_kind


@dataclass
class Flow:
    first: str | None
    nodes: dict[str, StepPlan]
    duplicates: list[tuple[str, KeyPath]]  # (id, path) of repeated ids

    def send_ids(self) -> list[str]:
        return [n.id for n in self.nodes.values() if n.send is not None]


def explicit_id(step: Step) -> str | None:
    if isinstance(step, Send):
        return step.send
    return step.id


def build_flow(seq: Sequence, settings: ProjectSettings | None = None) -> Flow:
    """The linked steps of `seq`; `settings` resolve each send's channel (default: none
    declared but the file outbox)."""
    settings = settings if settings is not None else ProjectSettings()
    nodes: dict[str, StepPlan] = {}
    duplicates: list[tuple[str, KeyPath]] = []
    counters: dict[str, int] = {}
    # Pass 1: assign ids in document order so automatic ids do not depend on nesting order.
    ids: dict[int, str] = {}
    taken = _explicit_ids(seq.steps)

    def assign(steps: list[Step]) -> None:
        for step in steps:
            kind = step_kind(step) or "?"
            sid = explicit_id(step)
            if sid is None:
                while True:
                    counters[kind] = counters.get(kind, 0) + 1
                    sid = f"{kind}-{counters[kind]}"
                    if sid not in taken:
                        break
            ids[id(step)] = sid
            for sub, _ in step.nested().values():
                assign(sub)

    assign(seq.steps)

    def link(steps: list[Step], after: str | None, path: KeyPath) -> str | None:
        first: str | None = None
        for i, step in enumerate(steps):
            nxt = ids[id(steps[i + 1])] if i + 1 < len(steps) else after
            sid = ids[id(step)]
            here = (*path, i)
            children: dict[str, str | None] = {}
            for name, (sub, below) in step.nested().items():
                children[name] = link(sub, nxt, (*here, *below))
            node = StepPlan(sid, step, here, nxt, children, settings)
            if sid in nodes:
                duplicates.append((sid, node.path))
            else:
                nodes[sid] = node
            if first is None:
                first = sid
        return first

    first = link(seq.steps, None, ("steps",))
    return Flow(first, nodes, duplicates)


def _explicit_ids(steps: list[Step]) -> set[str]:
    out: set[str] = set()
    for step in steps:
        sid = explicit_id(step)
        if sid is not None:
            out.add(sid)
        for sub, _ in step.nested().values():
            out |= _explicit_ids(sub)
    return out


__all__ = ["Flow", "StepPlan", "build_flow", "explicit_id"]
