"""`journeyctl schema`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.errors import UsageError


@app.command()
@boundary
def schema(
    kind: Annotated[
        str | None, typer.Option("--kind", help="sequence or journey (default: both with --out).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write <kind>.schema.json files into DIR.")
    ] = None,
) -> None:
    """Print the JSON Schema of sequence files or journey.yaml, for editors."""
    from journeyctl.cli.output import Output
    from journeyctl.spec.schema import KINDS, file_name, schema_text

    chosen = [k for k in KINDS if k == kind] if kind else list(KINDS)
    if not chosen:
        raise UsageError(f"--kind must be one of: {', '.join(KINDS)} (got {kind!r})")
    output = Output.from_environment()
    if out is None:
        output.data(schema_text(chosen[0]))
        return
    out.mkdir(parents=True, exist_ok=True)
    for k in chosen:
        (out / file_name(k)).write_text(schema_text(k), encoding="utf-8")
        output.err.print(f"wrote {out / file_name(k)}", markup=False, highlight=False)
