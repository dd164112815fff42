"""`journeyctl graph`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import OutOpt
from journeyctl.errors import ProjectError, UsageError


class GraphFormat(StrEnum):
    mermaid = "mermaid"
    dot = "dot"


@app.command()
@boundary
def graph(
    args: Annotated[
        list[str],
        typer.Argument(
            metavar="[DIR] SEQUENCE",
            help="Project directory (default: .), then the sequence id.",
            show_default=False,
        ),
    ],
    fmt: Annotated[
        GraphFormat, typer.Option("--format", help="mermaid (GitHub renders it) or dot.")
    ] = GraphFormat.mermaid,
    out: OutOpt = None,
) -> None:
    """Draw a sequence's flow: steps, branches, split arms, wait_for outcomes, exits, goal."""
    from journeyctl.cli.options import leading_dir
    from journeyctl.cli.output import Output
    from journeyctl.graph import render
    from journeyctl.spec.loader import load_project

    project_dir, (sequence,) = leading_dir(args, ("SEQUENCE",), "graph")
    if not project_dir.is_dir():
        raise UsageError(f"{project_dir}: not a project directory")
    project = load_project(project_dir)
    seq = project.sequences.get(sequence)
    if seq is None:
        errors = project.errors
        if errors:
            raise ProjectError(errors, f"sequence '{sequence}' did not load; fix the errors above")
        known = ", ".join(sorted(project.sequences)) or "none"
        raise UsageError(f"no sequence '{sequence}' in {project_dir} (sequences: {known})")
    Output.from_environment().emit(render(seq, fmt.value), out)
