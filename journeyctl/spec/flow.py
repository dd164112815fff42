"""A sequence's step tree flattened into addressable nodes with `next` pointers.

Every step gets an id: a send's id is its value; other steps take an explicit `id:` or an
automatic `<kind>-<n>` (n counts that kind in document order). Enrollments are positioned at
the *next step to run* by id, so live edits continue at the same id (SPEC §5).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from journeyctl.spec.models import (
    Branch,
    Exit,
    Send,
    Sequence,
    Split,
    Step,
    Wait,
    WaitFor,
    step_kind,
)


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    step: Step
    kind: str
    path: tuple[str | int, ...]  # key path in the YAML file, for diagnostics
    next: str | None  # where flow continues after this step (and its nested lists)
    # first node of each nested list: branch then/else, split arms, wait_for outcomes
    children: dict[str, str | None] = field(default_factory=dict)


@dataclass
class Flow:
    first: str | None
    nodes: dict[str, Node]
    duplicates: list[tuple[str, tuple[str | int, ...]]]  # (id, path) of repeated ids

    def send_ids(self) -> list[str]:
        return [n.id for n in self.nodes.values() if n.kind == "send"]


def explicit_id(step: Step) -> str | None:
    if isinstance(step, Send):
        return step.send
    return step.id


def build_flow(seq: Sequence) -> Flow:
    nodes: dict[str, Node] = {}
    duplicates: list[tuple[str, tuple[str | int, ...]]] = []
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
            for sub in _sublists(step).values():
                assign(sub)

    assign(seq.steps)

    def link(steps: list[Step], after: str | None, path: tuple[str | int, ...]) -> str | None:
        first: str | None = None
        for i, step in enumerate(steps):
            nxt = ids[id(steps[i + 1])] if i + 1 < len(steps) else after
            sid = ids[id(step)]
            kind = step_kind(step) or "?"
            children: dict[str, str | None] = {}
            for name, (sub, subpath) in _sublists_with_paths(step, (*path, i)).items():
                children[name] = link(sub, nxt, subpath)
            node = Node(sid, step, kind, (*path, i), nxt, children)
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
        for sub in _sublists(step).values():
            out |= _explicit_ids(sub)
    return out


def _sublists(step: Step) -> dict[str, list[Step]]:
    return {k: v for k, (v, _) in _sublists_with_paths(step, ()).items()}


def _sublists_with_paths(
    step: Step, path: tuple[str | int, ...]
) -> dict[str, tuple[list[Step], tuple[str | int, ...]]]:
    if isinstance(step, Branch):
        return {
            "then": (step.branch.then, (*path, "branch", "then")),
            "else": (step.branch.else_, (*path, "branch", "else")),
        }
    if isinstance(step, Split):
        return {
            arm: (spec.steps, (*path, "split", arm, "steps")) for arm, spec in step.split.items()
        }
    if isinstance(step, WaitFor):
        return {
            "on_event": (step.on_event, (*path, "on_event")),
            "on_timeout": (step.on_timeout, (*path, "on_timeout")),
        }
    return {}


__all__ = ["Exit", "Flow", "Node", "Wait", "build_flow", "explicit_id"]
