"""`journeyctl graph`: the Mermaid/DOT diagram, checked structurally for every stock sequence."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from journeyctl.spec.loader import load_project
from journeyctl.spec.models import Branch, Split, WaitFor
from journeyctl.spec.walk import iter_steps
from tests.builders import build_tree

_register()
STOCK = Path(__file__).parents[2] / "sequences"
STOCK_IDS = sorted(load_project(STOCK).sequences)

_NODE = re.compile(
    r'^    (\w+)(?:\(\["|\["|\{\{"|\{"|\(\("|\[/")(.*?)(?:"\]\)|"\]|"\}\}|"\}|"\)\)|"/\])$'
)
_EDGE = re.compile(r'^    (\w+) -->(?:\|"(.*?)"\|)? (\w+)$')


def parse_mermaid(text: str) -> tuple[dict[str, str], list[tuple[str, str, str | None]]]:
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, str | None]] = []
    for line in lines[1:]:
        if m := _EDGE.match(line):
            edges.append((m[1], m[3], m[2]))
        elif m := _NODE.match(line):
            assert m[1] not in nodes, f"node {m[1]} declared twice"
            nodes[m[1]] = m[2].replace("<br/>", "\n")
        else:
            assert line.startswith("    style "), f"unparsed line: {line!r}"
    return nodes, edges


def graph(*args: str) -> str:
    result = CliRunner().invoke(app, ["graph", *args])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_there_are_stock_sequences() -> None:
    assert {"welcome", "cart-reminder", "win-back"} <= set(STOCK_IDS)


@pytest.mark.parametrize("seq_id", STOCK_IDS)
def test_stock_sequence_graph_structure(seq_id: str) -> None:
    nodes, edges = parse_mermaid(graph(str(STOCK), seq_id))
    seq = load_project(STOCK).sequences[seq_id]
    out: dict[str, list[tuple[str, str | None]]] = {n: [] for n in nodes}
    for src, dst, label in edges:
        assert src in nodes and dst in nodes, (src, dst)
        out[src].append((dst, label))

    labels = list(nodes.values())
    for send_id in seq.flow.send_ids():
        assert sum(lab.split("\n")[0] == f"send {send_id}" for lab in labels) == 1, send_id
    assert len(out["trigger"]) == 1 and nodes["trigger"].startswith(f"{seq_id}: ")

    for step, _ in iter_steps(seq.model.steps):
        if isinstance(step, Branch):
            (nid,) = [n for n, lab in nodes.items() if lab == f"if {step.branch.if_}"][:1]
            assert sorted(lab for _, lab in out[nid]) == ["no", "yes"]
        elif isinstance(step, Split):
            arms = [n for n, lab in nodes.items() if lab == "split"]
            assert any(
                sorted(lab.split()[0] for _, lab in out[n]) == sorted(step.split) for n in arms
            )
        elif isinstance(step, WaitFor):
            body = step.wait_for
            nid = next(n for n, lab in nodes.items() if lab.startswith(f"wait for {body.event}\n"))
            assert sorted(lab for _, lab in out[nid]) == [
                f"on {body.event}",
                f"timeout {body.timeout}",
            ]

    # exits end the flow; everything but the note is reachable from the trigger
    for nid, lab in nodes.items():
        if lab.startswith("exit: ") or nid == "done":
            assert out[nid] == []
    seen, todo = {"trigger"}, ["trigger"]
    while todo:
        for dst, _ in out[todo.pop()]:
            if dst not in seen:
                seen.add(dst)
                todo.append(dst)
    assert set(nodes) - seen <= {"note"}
    if seq.model.goal is not None:
        assert nodes["note"].startswith(f"goal: {seq.model.goal.event}")


@pytest.mark.parametrize("seq_id", STOCK_IDS)
def test_dot_has_the_same_edges(seq_id: str) -> None:
    _, edges = parse_mermaid(graph(str(STOCK), seq_id))
    dot = graph(str(STOCK), seq_id, "--format", "dot")
    assert dot.startswith(f'digraph "{seq_id}" {{') and dot.rstrip().endswith("}")
    dot_edges = re.findall(r"^    (\w+) -> (\w+)", dot, re.M)
    assert dot_edges == [(s, d) for s, d, _ in edges]


def test_small_sequence_exact_mermaid(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "promo.yaml": """
                trigger: {event: subscribed}
                goal: {event: purchased, within: 7d}
                steps:
                  - send: hi
                    subject: hi
                    body: "x"
                  - split:
                      a: {weight: 90, steps: [{send: offer, subject: o, body: o}]}
                      control: {weight: 10}
                  - wait_for: {event: purchased, timeout: 3d}
                    on_event: [{exit: bought}]
                """
        },
    )
    assert graph(str(tmp_path), "promo") == (
        "flowchart TD\n"
        '    trigger(["promo: on event subscribed"])\n'
        '    s_hi["send hi"]\n'
        '    s_split_1{"split"}\n'
        '    s_offer["send offer"]\n'
        '    s_wait_for_1{{"wait for purchased<br/>up to 3d"}}\n'
        '    s_exit_1(("exit: bought"))\n'
        '    done(("end"))\n'
        '    note[/"goal: purchased within 1w"/]\n'
        "    trigger --> s_hi\n"
        "    s_hi --> s_split_1\n"
        '    s_split_1 -->|"a 90%"| s_offer\n'
        '    s_split_1 -->|"control 10%"| s_wait_for_1\n'
        "    s_offer --> s_wait_for_1\n"
        '    s_wait_for_1 -->|"on purchased"| s_exit_1\n'
        '    s_wait_for_1 -->|"timeout 3d"| done\n'
        "    style note fill:#fff8dc,stroke:#d4b106\n"
    )


def test_unknown_sequence_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["graph", str(STOCK), "nope"])
    assert result.exit_code == 2
    assert "no sequence 'nope'" in result.stderr
