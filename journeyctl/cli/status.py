"""`journeyctl status`: where contacts stand, what is due, what is retrying or failed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import DbOpt, Format


@app.command()
@boundary
def status(
    db: DbOpt = Path("journey.db"),
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="The clock 'due now' is counted at: ISO 8601 with offset, or a date. Default: "
            "the last run's clock in the database, else the wall clock.",
        ),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
) -> None:
    """Enrollments by sequence and step, due now, retrying and failed deliveries."""
    from zoneinfo import ZoneInfo

    from journeyctl.cli.db_render import open_existing, render_status, status_json
    from journeyctl.cli.output import Output
    from journeyctl.clock import SystemClock
    from journeyctl.data.instants import parse_instant
    from journeyctl.store.queries import last_run_clock
    from journeyctl.store.queries import status as read_status

    store = open_existing(db)
    note = None
    try:
        tz = store.get_meta("timezone") or "UTC"
        last = None if now else last_run_clock(store)
        if now:
            t = parse_instant(now, tz, option="--now")
        elif last is not None:
            t = last
            shown = t.astimezone(ZoneInfo(tz)).isoformat()
            note = f"clock: {shown}, the last run's (from the database; --now to change)"
        else:
            t = SystemClock().now()
        st = read_status(store, t)
    finally:
        store.close()
    output = Output.from_environment()
    if note is not None:
        output.err.print(note, markup=False, highlight=False)
    if fmt is Format.json:
        output.data(status_json(st, tz))
    else:
        render_status(output, st, tz)
