"""`journeyctl status`: where contacts stand, what is due, what is retrying or failed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import DbOpt, Format, NowOpt


@app.command()
@boundary
def status(
    db: DbOpt = Path("journey.db"),
    now: NowOpt = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
) -> None:
    """Enrollments by sequence and step, due now, retrying and failed deliveries."""
    from journeyctl.cli.db_render import open_existing, render_status, status_json
    from journeyctl.cli.output import Output
    from journeyctl.clock import SystemClock
    from journeyctl.data.instants import parse_instant
    from journeyctl.store.queries import status as read_status

    store = open_existing(db)
    try:
        tz = store.get_meta("timezone") or "UTC"
        t = parse_instant(now, tz, option="--now") if now else SystemClock().now()
        st = read_status(store, t)
    finally:
        store.close()
    output = Output.from_environment()
    if fmt is Format.json:
        output.data(status_json(st, tz))
    else:
        render_status(output, st, tz)
