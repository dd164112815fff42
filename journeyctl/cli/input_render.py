"""What became of the input files, said loudly: stderr lines and the JSON parts of `run`,
`simulate` and the imports (rows rejected and the rejects file, events skipped, files held back).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from journeyctl.cli.output import Output
from journeyctl.diagnostics import sort_key
from journeyctl.imports import InputReport

# Located problems printed per file; the rest are counted (every bad row is in the rejects
# file). A cron mail of a thousand lines is not read.
SHOWN = 20


def print_inputs(output: Output, reports: Sequence[InputReport], *, shown: int = SHOWN) -> None:
    """On stderr: each file's located problems (`file:line:col: error[code]: message`, the
    first `shown`), then one line per thing left out: bad rows and where they were written,
    events skipped for unknown contacts, or why the whole file was held back."""

    def say(text: str) -> None:
        output.err.print(text, markup=False, highlight=False)

    for r in reports:
        diags = sorted(r.diagnostics, key=sort_key)
        for d in diags[:shown]:
            say(str(d))
        if len(diags) > shown:
            more = f"  ... {len(diags) - shown} more problem(s) in {r.path} not shown"
            say(more + (f"; every bad row is in {r.rejects}" if r.rejected else ""))
        if r.held_back:
            say(f"error: {r.path}: held back: {r.held_back}")
        if r.rejected:
            say(
                f"warning: {r.path}: {r.rejected} bad row(s) rejected and left out; "
                f"written to {r.rejects}"
            )
        if r.unknown_contact:
            say(
                f"warning: {r.path}: {r.unknown_contact} event(s) skipped: their contact is "
                "not in the database (they import once it is)"
            )


def rejected_doc(reports: Sequence[InputReport]) -> dict[str, Any]:
    """`rejected` in the JSON documents: rows left out of files that were imported."""
    return {
        "contacts": sum(r.rejected for r in reports if r.kind == "contacts"),
        "events": sum(r.rejected for r in reports if r.kind == "events"),
        "events_unknown_contact": sum(r.unknown_contact for r in reports),
        "files": {r.kind: str(r.rejects) for r in reports if r.rejects is not None},
    }


def held_back_doc(reports: Sequence[InputReport]) -> list[dict[str, Any]]:
    """`held_back` in `run`'s JSON: files of which nothing was imported, and why."""
    return [
        {"kind": r.kind, "file": str(r.path), "rows": r.held_rows, "reason": r.held_back}
        for r in reports
        if r.held_back
    ]
