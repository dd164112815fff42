"""Checks on cross-sequence guards (`unless_in:`): each names another sequence of the project."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from journeyctl.diagnostics import Diagnostic, error
from journeyctl.spec.project import Project


def check_guards(project: Project) -> Iterator[Diagnostic]:
    known = sorted(project.sequences)
    for seq in project.sequences.values():
        for i, name in enumerate(seq.model.unless_in):
            loc = seq.source.scalar_location(("unless_in", i))
            if name == seq.id:
                yield error(
                    loc,
                    "unknown-sequence",
                    f"unless_in names the sequence itself ('{name}')",
                    "`reentry` says whether a contact may enter a sequence it is in",
                )
            elif name not in project.sequences:
                close = difflib.get_close_matches(name, known, n=1)
                yield error(
                    loc,
                    "unknown-sequence",
                    f"unless_in: no sequence '{name}' in this project "
                    f"(sequences: {', '.join(known)})",
                    f"did you mean '{close[0]}'?" if close else None,
                )
