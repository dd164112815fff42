"""A sequence's flow as a diagram: Mermaid (GitHub renders it in PRs) or Graphviz DOT.

Pure: LoadedSequence -> text. The trigger is the start node; sends, waits, branches, splits,
wait_fors and exits are nodes; branch conditions, split arms and wait_for outcomes label the
edges; the goal and exit_on events are a note beside the flow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from journeyctl.spec.durations import Duration
from journeyctl.spec.manifest import StepPlan
from journeyctl.spec.models import (
    Branch,
    DateTrigger,
    EventTrigger,
    Exit,
    SegmentTrigger,
    Send,
    Split,
    Wait,
    WaitFor,
)
from journeyctl.spec.project import LoadedSequence

START = "trigger"
DONE = "done"
NOTE = "note"


@dataclass
class Graph:
    """Nodes (id -> (label, shape)) and labelled edges, in document order."""

    nodes: dict[str, tuple[str, str]] = field(default_factory=dict)
    edges: list[tuple[str, str, str | None]] = field(default_factory=list)
    step_nodes: dict[str, str] = field(default_factory=dict)  # step id -> node id


def build_graph(seq: LoadedSequence) -> Graph:
    flow = seq.flow
    # document order (flow.nodes is filled innermost-first), so diagrams read top-down
    order = sorted(flow.nodes.values(), key=lambda n: _position(seq, n))
    ids = _node_ids([n.id for n in order])
    g = Graph(step_nodes=ids)
    g.nodes[START] = (_trigger_label(seq), "start")

    def target(step_id: str | None) -> str:
        if step_id is None:
            g.nodes.setdefault(DONE, ("end", "end"))
            return DONE
        return ids[step_id]

    def child(node: StepPlan, name: str) -> str:
        # an empty list (a `control` arm, no on_event) continues after the step
        return target(node.children.get(name) or node.next)

    g.edges.append((START, target(flow.first), None))
    for node in order:
        me = ids[node.id]
        g.nodes[me] = _label(node)
        step = node.step
        if isinstance(step, Exit):
            continue
        if isinstance(step, Branch):
            g.edges.append((me, child(node, "then"), "yes"))
            g.edges.append((me, child(node, "else"), "no"))
        elif isinstance(step, Split):
            total = sum(arm.weight for arm in step.split.values())
            for name, arm in step.split.items():
                share = f"{arm.weight / total:.0%}"
                g.edges.append((me, child(node, name), f"{name} {share}"))
        elif isinstance(step, WaitFor):
            body = step.wait_for
            g.edges.append((me, child(node, "on_event"), f"on {body.event}"))
            g.edges.append((me, child(node, "on_timeout"), f"timeout {body.timeout}"))
        else:
            g.edges.append((me, target(node.next), None))
    if DONE in g.nodes:
        g.nodes[DONE] = g.nodes.pop(DONE)  # the end node reads best last
    note = _note(seq)
    if note:
        g.nodes[NOTE] = (note, "note")
    return g


def _position(seq: LoadedSequence, node: StepPlan) -> tuple[int, int]:
    loc = seq.source.locate(node.path)
    return loc.line, loc.col


def _node_ids(step_ids: list[str]) -> dict[str, str]:
    # Mermaid ids are plain words and `end` is reserved: prefix and sanitise, keep unique.
    out: dict[str, str] = {}
    taken = {START, DONE, NOTE}
    for sid in step_ids:
        base = "s_" + re.sub(r"[^A-Za-z0-9_]", "_", sid)
        nid, n = base, 1
        while nid in taken:
            n += 1
            nid = f"{base}_{n}"
        taken.add(nid)
        out[sid] = nid
    return out


def _trigger_label(seq: LoadedSequence) -> str:
    trig = seq.model.trigger
    if isinstance(trig, EventTrigger):
        text = f"on event {trig.event}" + (f" where {trig.where}" if trig.where else "")
    elif isinstance(trig, SegmentTrigger):
        text = f"segment {trig.segment} (check {trig.check})"
    else:
        assert isinstance(trig, DateTrigger)
        spec = trig.date
        text = f"date {spec.field} every {spec.every} at {spec.at:%H:%M}"
        if not spec.offset.is_zero:
            text += f" offset {spec.offset}"
    audience = f"\naudience: {seq.model.audience}" if seq.model.audience else ""
    return f"{seq.id}: {text}{audience}"


def _label(node: StepPlan) -> tuple[str, str]:
    step = node.step
    if isinstance(step, Send):
        details = [d for d in (step.channel, step.template) if d]
        return f"send {step.send}" + (f"\n{' · '.join(details)}" if details else ""), "send"
    if isinstance(step, Wait):
        w = step.wait
        if isinstance(w, Duration):
            return f"wait {w}", "wait"
        days = "" if len(w.days) == 7 else " " + ",".join(w.days)
        return f"wait until {w.until:%H:%M}{days}", "wait"
    if isinstance(step, Branch):
        return f"if {step.branch.if_}", "choice"
    if isinstance(step, Split):
        return "split", "choice"
    if isinstance(step, WaitFor):
        return f"wait for {step.wait_for.event}\nup to {step.wait_for.timeout}", "wait"
    assert isinstance(step, Exit)
    return f"exit: {step.exit}", "end"


def _note(seq: LoadedSequence) -> str:
    parts = []
    if seq.model.goal is not None:
        goal = seq.model.goal
        parts.append(f"goal: {goal.event}" + (f" within {goal.within}" if goal.within else ""))
    if seq.model.exit_on:
        parts.append("exits on: " + ", ".join(seq.model.exit_on))
    return "\n".join(parts)


# --- rendering -------------------------------------------------------------------------------

_MERMAID_SHAPES = {
    "start": ('(["', '"])'),
    "send": ('["', '"]'),
    "wait": ('{{"', '"}}'),
    "choice": ('{"', '"}'),
    "end": ('(("', '"))'),
    "note": ('[/"', '"/]'),
}


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", "<br/>")


def to_mermaid(g: Graph) -> str:
    lines = ["flowchart TD"]
    for nid, (label, shape) in g.nodes.items():
        left, right = _MERMAID_SHAPES[shape]
        lines.append(f"    {nid}{left}{_mermaid_text(label)}{right}")
    for src, dst, edge in g.edges:
        arrow = f'-->|"{_mermaid_text(edge)}"|' if edge else "-->"
        lines.append(f"    {src} {arrow} {dst}")
    if NOTE in g.nodes:
        lines.append(f"    style {NOTE} fill:#fff8dc,stroke:#d4b106")
    return "\n".join(lines) + "\n"


_DOT_SHAPES = {
    "start": "oval",
    "send": "box",
    "wait": "hexagon",
    "choice": "diamond",
    "end": "doublecircle",
    "note": "note",
}


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def to_dot(g: Graph, name: str) -> str:
    lines = [
        f'digraph "{_dot_text(name)}" {{',
        "    rankdir=TB;",
        '    node [fontname="sans-serif"];',
    ]
    for nid, (label, shape) in g.nodes.items():
        lines.append(f'    {nid} [label="{_dot_text(label)}", shape={_DOT_SHAPES[shape]}];')
    for src, dst, edge in g.edges:
        attrs = f' [label="{_dot_text(edge)}"]' if edge else ""
        lines.append(f"    {src} -> {dst}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(seq: LoadedSequence, fmt: str) -> str:
    """The sequence's diagram as `mermaid` or `dot` text."""
    g = build_graph(seq)
    return to_dot(g, seq.id) if fmt == "dot" else to_mermaid(g)
