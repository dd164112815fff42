"""A sequence's flow with numbers at its nodes: the `graph` command's Mermaid diagram, each
node's label followed by lines such as `sent 812` or `skipped 3 quiet_hours`.

The page's script renders the text with the vendored Mermaid; the same text pasted into a
GitHub comment renders there too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from journeyctl.graph import DONE, NOTE, START, build_graph, to_mermaid
from journeyctl.spec.project import LoadedSequence

__all__ = ["DONE", "NOTE", "START", "flow_chart", "node_ids"]


def node_ids(seq: LoadedSequence) -> dict[str, str]:
    """Step id -> the diagram's node id (plus START, DONE and NOTE as themselves)."""
    g = build_graph(seq)
    return {**g.step_nodes, **{n: n for n in (START, DONE, NOTE) if n in g.nodes}}


def flow_chart(seq: LoadedSequence, counts: Mapping[str, Sequence[str]]) -> str:
    """Mermaid text of `seq` with `counts[key]` (lines of text) under each node's label;
    `key` is a step id, START (the trigger), DONE (the end) or NOTE (goal and exit_on)."""
    g = build_graph(seq)
    ids = {**g.step_nodes, START: START, DONE: DONE, NOTE: NOTE}
    for key, lines in counts.items():
        nid = ids.get(key)
        if nid is None or nid not in g.nodes or not lines:
            continue
        label, shape = g.nodes[nid]
        g.nodes[nid] = (label + "\n" + "\n".join(lines), shape)
    return to_mermaid(g)
