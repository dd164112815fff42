"""Semantic checks over a loaded project: pure functions (project) -> diagnostics (SPEC §4)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from journeyctl.diagnostics import Diagnostic, error
from journeyctl.spec.project import Project

Check = Callable[[Project], Iterator[Diagnostic]]


def check_unique_step_ids(project: Project) -> Iterator[Diagnostic]:
    for seq in project.sequences.values():
        for sid, path in seq.flow.duplicates:
            first = seq.flow.nodes[sid]
            line = seq.source.locate(first.path).line
            yield error(
                seq.source.locate(path),
                "duplicate-step-id",
                f"step id '{sid}' is already used at line {line}",
                "step ids must be unique within a sequence",
            )


CHECKS: list[Check] = [check_unique_step_ids]


def run_checks(project: Project) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for check in CHECKS:
        out.extend(check(project))
    return out
