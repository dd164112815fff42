"""`journeyctl validate`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import ContactsOpt, DiagFormat, EncodingOpt, format_option
from journeyctl.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from journeyctl.diagnostics import Diagnostic
    from journeyctl.spec.project import Project


@app.command()
@boundary
def validate(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Project directories or sequence files.")
    ] = None,
    fmt: Annotated[
        DiagFormat, format_option(DiagFormat, "text, json or github annotations.")
    ] = DiagFormat.text,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the json or github output to this file (text diagnostics stay on stderr).",
        ),
    ] = None,
    contacts: ContactsOpt = None,
    encoding: EncodingOpt = None,
) -> None:
    """Check sequences, templates, timing and compliance before merge.

    With --contacts, every template is also rendered for every contact of the file.
    """
    from journeyctl.cli.output import Output
    from journeyctl.cli.render import render_diagnostics
    from journeyctl.spec import validate_paths

    result = validate_paths(paths or [Path(".")])
    diagnostics = result.diagnostics
    if contacts is not None:
        diagnostics = _with_contacts(result.projects, contacts, encoding)
    output = Output.from_environment()
    with output.writing(out if fmt is not DiagFormat.text else None) as o:
        render_diagnostics(o, diagnostics, fmt.value)
    n_err = sum(d.is_error for d in diagnostics)
    if fmt is DiagFormat.text:
        output.err.print(
            f"{n_err} error(s), {len(diagnostics) - n_err} warning(s)",
            markup=False,
            highlight=False,
        )
    failed = n_err > 0 or (strict and bool(diagnostics))
    raise typer.Exit(ExitCode.PROBLEMS if failed else ExitCode.OK)


def _with_contacts(
    projects: list[Project], contacts: Path, encoding: str | None
) -> list[Diagnostic]:
    from journeyctl.clock import SystemClock
    from journeyctl.data.contacts import read_contacts
    from journeyctl.spec.contact_checks import validate_with_contacts

    if len(projects) != 1:
        raise UsageError("--contacts checks one project: give one directory or sequence file")
    if not contacts.is_file():
        raise UsageError(f"{contacts}: no such contacts file")
    project = projects[0]
    rows = read_contacts(contacts, project.settings, encoding=encoding).items
    values = [(c.id, c.as_template_value()) for c in rows]
    return validate_with_contacts(project, values, SystemClock().now())
