"""What became of the input files, said loudly: stderr lines and the JSON parts of `run`,
`simulate` and the imports (rows rejected and the rejects file, events skipped, files held back).
"""

from __future__ import annotations

from collections.abc import Sequence

from journeyctl.cli.output import Output
from journeyctl.diagnostics import sort_key
from journeyctl.run.imports import InputReport
from journeyctl.run.summary import held_back_doc, rejected_doc

__all__ = ["held_back_doc", "print_inputs", "rejected_doc"]

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
