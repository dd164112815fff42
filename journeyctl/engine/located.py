"""Where in the project a failure for one contact comes from: the sequence file's line for an
inline subject or body, the template file's line otherwise. Only on the failure path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from journeyctl.engine.failures import RenderFailure, describe, display_path
from journeyctl.spec.locations import scalar_line
from journeyctl.spec.models import Send
from journeyctl.spec.project import Project
from journeyctl.spec.walk import iter_steps


def describe_failure(
    project: Project, sequence: str, step: Send, failure: RenderFailure, cv: dict[str, Any]
) -> str:
    """The located reason a message failed to render (failures.describe), e.g.
    `welcome.yaml:6:14: subject `점수 {{ 100 // contact.n }}`: ZeroDivisionError: ...`."""
    if failure.part == "template":
        # the layout or include it failed in, when that is not the step's own template
        path = Path(failure.file) if failure.file else project.templates_dir / failure.source
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            text = ""
        where = f"{display_path(path)}:{failure.lineno}"
        return describe(failure, where=where, text=text, contact_value=cv)
    where = f"{sequence} step {step.send}"
    loaded = project.sequences.get(sequence)
    if loaded is not None:
        for found, kpath in iter_steps(loaded.model.steps):
            if isinstance(found, Send) and found.send == step.send:
                try:
                    loc = scalar_line(loaded.source, (*kpath, failure.part), failure.lineno)
                except Exception:  # a source that no longer matches the model: name the step
                    break
                where = f"{display_path(loc.path)}:{loc.line}:{loc.col}"
                break
    return describe(failure, where=where, text=failure.source, contact_value=cv)
