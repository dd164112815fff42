"""`journeyctl validate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import DiagFormat
from journeyctl.errors import ExitCode


@app.command()
@boundary
def validate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Project directories or sequence files.")] = None,
    fmt: Annotated[DiagFormat, typer.Option("--format", help="text, json or github annotations.")] = DiagFormat.text,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
) -> None:
    """Check sequences, templates, timing and compliance before merge."""
    from journeyctl.cli.output import Output
    from journeyctl.cli.render import render_diagnostics
    from journeyctl.spec import validate_paths

    result = validate_paths(paths or [Path(".")])
    out = Output.from_environment()
    render_diagnostics(out, result.diagnostics, fmt.value)
    failed = bool(result.errors) or (strict and bool(result.diagnostics))
    if fmt is DiagFormat.text:
        n_err = len(result.errors)
        n_warn = len(result.diagnostics) - n_err
        out.err.print(f"{n_err} error(s), {n_warn} warning(s)", markup=False, highlight=False)
    raise typer.Exit(ExitCode.PROBLEMS if failed else ExitCode.OK)
