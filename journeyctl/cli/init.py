"""`journeyctl init`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary


@app.command()
@boundary
def init(
    target: Annotated[Path, typer.Argument(help="Directory to create (default: .).")] = Path("."),
    origin: Annotated[
        str, typer.Option("--from", help="`sequences` (the stock library) or a project dir.")
    ] = "sequences",
    force: Annotated[
        bool, typer.Option("--force", help="Copy into a non-empty directory.")
    ] = False,
) -> None:
    """Scaffold a project from the stock library of ready-made sequences."""
    from journeyctl.cli.output import Output
    from journeyctl.scaffold import scaffold

    written = scaffold(target, origin, force=force)
    out = Output.from_environment()
    out.err.print(
        f"created {target} with {len(written)} files; next: journeyctl validate {target}",
        markup=False,
        highlight=False,
    )
