"""Timing lints over a sequence's flow: what can never be true because of when it is read.

- A branch reading `opened('hello')` / `clicked('hello')` where no wait lies between sending
  `hello` and the branch (or where `hello` is not sent before it on any path) reads a response
  that cannot have happened yet: the condition is false for every contact.
- A goal's `within` counts from entry; a send that always goes out after it closed has no
  conversions counted (the goal window is shorter than the wait before it).

Both walk every path of the flow (spec.flow's linked steps), bounded for hostile files.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from jinja2 import TemplateSyntaxError, nodes

from journeyctl.diagnostics import Diagnostic, warning
from journeyctl.spec.durations import Duration
from journeyctl.spec.expressions import find_all, parse_expr
from journeyctl.spec.locations import in_scalar
from journeyctl.spec.manifest import BRANCH, SEND, WAIT, WAIT_FOR, StepPlan
from journeyctl.spec.project import LoadedSequence, Project

RESPONSES = ("opened", "clicked")
_MAX_VISITS = 20_000  # path states per sequence; past it the lints stay silent


@dataclass
class _Paths:
    """What every path brings to each step: sends not yet followed by a wait (`fresh`), sends
    made (`sent`), and the least nominal time since entry."""

    reaching: dict[str, set[tuple[frozenset[str], frozenset[str]]]] = field(default_factory=dict)
    earliest: dict[str, timedelta] = field(default_factory=dict)
    complete: bool = True


def _successors(node: StepPlan) -> list[str | None]:
    if node.kind_name == "exit":
        return []
    if node.children:
        return [c if c is not None else node.next for c in node.children.values()]
    return [node.next]


def _walk(seq: LoadedSequence) -> _Paths:
    steps, out = seq.flow.nodes, _Paths()
    best: dict[tuple[str, frozenset[str], frozenset[str]], timedelta] = {}
    stack = [(seq.flow.first, frozenset[str](), frozenset[str](), timedelta(0))]
    visits = 0
    while stack:
        sid, fresh, sent, elapsed = stack.pop()
        node = steps.get(sid) if sid is not None else None
        if node is None:
            continue
        key = (node.id, fresh, sent)
        if key in best and best[key] <= elapsed:
            continue
        best[key] = elapsed
        visits += 1
        if visits > _MAX_VISITS:
            out.complete = False
            return out
        out.reaching.setdefault(node.id, set()).add((fresh, sent))
        if node.kind == SEND:
            if elapsed < out.earliest.get(node.id, timedelta.max):
                out.earliest[node.id] = elapsed
            fresh, sent = fresh | {node.send_id}, sent | {node.send_id}
        elif node.kind == WAIT:
            fresh = frozenset()
            if isinstance(node.wait, Duration):
                elapsed += node.wait.approx()
        if node.kind == WAIT_FOR:
            on_event, on_timeout = node.children.get("on_event"), node.children.get("on_timeout")
            timeout = node.wait_timeout.approx() if node.wait_timeout else timedelta(0)
            after = node.next
            stack.append((on_event if on_event is not None else after, frozenset(), sent, elapsed))
            stack.append(
                (
                    on_timeout if on_timeout is not None else after,
                    frozenset(),
                    sent,
                    elapsed + timeout,
                )
            )
            continue
        for nxt in _successors(node):
            stack.append((nxt, fresh, sent, elapsed))
    return out


def _responses_read(source: str) -> list[tuple[str, str]]:
    try:
        tree = parse_expr(source)
    except TemplateSyntaxError:
        return []
    found = []
    for call in find_all(tree, nodes.Call):
        if (
            isinstance(call.node, nodes.Name)
            and call.node.name in RESPONSES
            and len(call.args) == 1
            and isinstance(call.args[0], nodes.Const)
            and isinstance(call.args[0].value, str)
        ):
            found.append((call.node.name, call.args[0].value))
    return list(dict.fromkeys(found))


def _check_responses(seq: LoadedSequence, paths: _Paths) -> Iterator[Diagnostic]:
    src = seq.source
    sends = {n.send_id: n for n in seq.flow.nodes.values() if n.kind == SEND}
    for node in seq.flow.nodes.values():
        if node.kind != BRANCH or node.id not in paths.reaching:
            continue
        where = (*node.path, "branch", "if")
        for helper, step in _responses_read(node.branch_if):
            if step not in sends:
                continue  # unknown-step-ref says so
            states = paths.reaching[node.id]
            if any(step in sent and step not in fresh for fresh, sent in states):
                continue  # on some path time has passed since it was sent
            sent_line = src.locate(sends[step].path).line
            if any(step in sent for _, sent in states):
                why = f"no wait lies between sending '{step}' (line {sent_line}) and this branch"
                hint = (
                    f"add a wait after '{step}' (e.g. `- wait: 2d`), or wait for the response:"
                    f" `wait_for: {{event: {helper}, timeout: 2d}}`"
                )
            else:
                why = f"'{step}' is sent only after it (line {sent_line}), on every path"
                hint = f"move the branch after '{step}' and a wait"
            yield warning(
                in_scalar(src, where, f"{helper}("),
                "response-too-soon",
                f"{helper}('{step}') is always false here: {why}",
                hint,
            )


def _check_goal_window(seq: LoadedSequence, paths: _Paths) -> Iterator[Diagnostic]:
    goal = seq.model.goal
    within = goal.within if goal is not None else None
    if within is None or not paths.complete:
        return
    late = [(elapsed, sid) for sid, elapsed in paths.earliest.items() if elapsed > within.approx()]
    if not late:
        return
    elapsed, sid = min(late)
    node = seq.flow.nodes[sid]
    waited = Duration(days=elapsed.days, seconds=elapsed.seconds)
    yield warning(
        seq.source.scalar_location(("goal", "within")),
        "impossible-timing",
        f"goal window {within} is shorter than the wait before send '{sid}' ({waited}, line"
        f" {seq.source.locate(node.path).line}): conversions after it are not counted",
        "the goal window counts from entry: make `within` cover the sequence's waits",
    )


def check_flow_timing(project: Project) -> Iterator[Diagnostic]:
    for seq in project.sequences.values():
        paths = _walk(seq)
        yield from _check_responses(seq, paths)
        yield from _check_goal_window(seq, paths)
