"""A ProjectDiff as plain text (terminal) or Markdown (a pull-request comment). Pure strings."""

from __future__ import annotations

from collections.abc import Callable

from journeyctl.review.semantic_diff import Change, ProjectDiff, SequenceDiff

_MARK = {
    "step-added": "+",
    "sequence-added": "+",
    "step-removed": "-",
    "sequence-removed": "-",
}
_STATUS = {"added": "new sequence", "removed": "removed", "changed": "changed"}


def _version(sd: SequenceDiff) -> str:
    if sd.old_version and sd.new_version:
        return f"version {sd.old_version[:8]} → {sd.new_version[:8]}"
    return f"version {(sd.new_version or sd.old_version or '')[:8]}"


def headline(diff: ProjectDiff) -> str:
    if not diff.changed:
        return f"no changes against `{diff.base}`"
    parts = []
    if diff.sequences:
        parts.append(f"{len(diff.sequences)} sequence(s) changed")
    if diff.settings:
        parts.append("journey.yaml changed")
    if diff.templates:
        parts.append(f"{len(diff.templates)} shared template(s) changed")
    return f"{', '.join(parts)} against `{diff.base}`"


def to_text(diff: ProjectDiff, *, details: bool = True) -> str:
    lines = [headline(diff)]
    if diff.settings:
        lines += ["", "journey.yaml"]
        lines += _text_changes(diff.settings, details)
    for sd in diff.sequences:
        lines += ["", f"{sd.sequence} ({_STATUS[sd.status]}, {_version(sd)})"]
        lines += _text_changes(sd.changes, details)
    if diff.templates:
        lines += ["", "shared templates"]
        lines += _text_changes(diff.templates, details)
    return "\n".join(lines) + "\n"


def _text_changes(changes: list[Change], details: bool) -> list[str]:
    out = []
    for c in changes:
        out.append(f"  {_MARK.get(c.kind, '~')} {c.summary}")
        if details and c.detail:
            out += ["      " + line for line in c.detail.rstrip("\n").splitlines()]
    return out


def to_markdown(diff: ProjectDiff, graph: Callable[[str], str | None] | None = None) -> str:
    """A PR comment: one section per sequence, diffs folded in <details>, the flow as Mermaid.

    `graph(sequence_id)` returns the Mermaid source of the sequence after the change (or None).
    """
    lines = [f"### journeyctl diff: {headline(diff)}", ""]
    if not diff.changed:
        return "\n".join(lines)
    if diff.settings:
        lines += ["#### journey.yaml", ""]
        lines += _md_changes(diff.settings)
    for sd in diff.sequences:
        lines += [f"#### `{sd.sequence}` — {_STATUS[sd.status]} ({_version(sd)})", ""]
        lines += _md_changes(sd.changes)
        source = graph(sd.sequence) if graph is not None and sd.status != "removed" else None
        if source:
            lines += [
                "<details open><summary>Flow after this change</summary>",
                "",
                "```mermaid",
                source.rstrip("\n"),
                "```",
                "",
                "</details>",
                "",
            ]
    if diff.templates:
        lines += ["#### Shared templates", ""]
        lines += _md_changes(diff.templates)
    return "\n".join(lines)


def _md_changes(changes: list[Change]) -> list[str]:
    out = []
    folded = []
    for c in changes:
        out.append(f"- {_md_escape(c.summary)}")
        if c.detail:
            folded.append(c)
    out.append("")
    for c in folded:
        assert c.detail is not None
        fence = "````" if "```" in c.detail else "```"
        out += [
            f"<details><summary>{_html_escape(c.summary)}</summary>",
            "",
            f"{fence}diff",
            c.detail.rstrip("\n"),
            fence,
            "",
            "</details>",
            "",
        ]
    return out


def _md_escape(text: str) -> str:
    # Stop HTML in copy ('<b>Sale</b>') rendering in the comment; `code` spans show text as is.
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "")
