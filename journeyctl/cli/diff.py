"""`journeyctl diff`: what changed between a git ref and the working tree, in a reviewer's words."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import OutOpt, format_option
from journeyctl.errors import ExitCode

if TYPE_CHECKING:
    from collections.abc import Callable

    from journeyctl.spec.project import Project


class DiffFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


@app.command()
@boundary
def diff(
    project_dir: Annotated[Path, typer.Argument(help="Project directory.")] = Path("."),
    base: Annotated[
        str, typer.Option("--base", help="Git ref to compare the working tree with.")
    ] = "HEAD",
    fmt: Annotated[DiffFormat, format_option(DiffFormat, "text, markdown or json.")] = (
        DiffFormat.text
    ),
    out: OutOpt = None,
    exit_code: Annotated[
        bool,
        typer.Option(
            "--exit-code", help="Exit 1 when anything changed, 0 when nothing did (for CI)."
        ),
    ] = False,
) -> None:
    """Compare the sequences with a git ref: steps, timing, copy, triggers and policy.

    Exit status is 0 (also when there are changes) unless --exit-code is given; then 0 means
    no changes and 1 means changes, like `terraform plan -detailed-exitcode` and `git diff
    --exit-code`. Errors exit 2 (usage, unknown ref) or 1 (a side that does not load).
    """
    import json

    from journeyctl.cli.output import Output
    from journeyctl.review.render import to_markdown, to_text
    from journeyctl.review.semantic_diff import diff_projects
    from journeyctl.review.sides import base_side, load_side

    new = load_side(project_dir)
    with base_side(project_dir, base) as old:
        result = diff_projects(old, new, base=base)
    if fmt is DiffFormat.json:
        text = json.dumps(result.to_json(), ensure_ascii=False, indent=2)
    elif fmt is DiffFormat.markdown:
        text = to_markdown(result, _mermaid(new.project))
    else:
        text = to_text(result)
    Output.from_environment().emit(text, out)
    if exit_code and result.changed:
        raise typer.Exit(ExitCode.PROBLEMS)


def _mermaid(project: Project) -> Callable[[str], str | None]:
    """The flow of a sequence after the change, as Mermaid (journeyctl.graph)."""
    from journeyctl.graph import render

    def one(sequence_id: str) -> str | None:
        seq = project.sequences.get(sequence_id)
        return None if seq is None else render(seq, "mermaid")

    return one
