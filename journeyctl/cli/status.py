"""`journeyctl status`: where contacts stand, what is due, what is retrying or failed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import DbOpt, Format, OutOpt, ReportFormatOpt, format_for

OptionalProjectDir = Annotated[
    Path | None,
    typer.Argument(
        metavar="DIR",
        help="Project directory: its journey.yaml timezone is the one times are shown in "
        "(default: the timezone the last run recorded in the database).",
        show_default=False,
    ),
]


@app.command()
@boundary
def status(
    project_dir: OptionalProjectDir = None,
    db: DbOpt = "journey.db",
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="The clock 'due now' is counted at: ISO 8601 with offset, or a date. Default: "
            "the last run's clock in the database, else the wall clock.",
        ),
    ] = None,
    fmt: ReportFormatOpt = None,
    out: OutOpt = None,
) -> None:
    """Enrollments by sequence and step, due now, retrying and failed deliveries."""
    fmt = format_for(fmt, out, Format)
    from zoneinfo import ZoneInfo

    from journeyctl.cli.db_render import open_existing, render_status, status_json
    from journeyctl.cli.loading import project_timezone
    from journeyctl.cli.output import Output
    from journeyctl.clock import SystemClock
    from journeyctl.data.instants import parse_instant
    from journeyctl.store.queries import last_run_clock
    from journeyctl.store.queries import status as read_status

    project_tz = project_timezone(project_dir)
    store = open_existing(db)
    note = None
    try:
        tz = project_tz or store.get_meta("timezone") or "UTC"
        last = None if now else last_run_clock(store)
        if now:
            t = parse_instant(now, tz, option="--now")
        elif last is not None:
            t = last
            shown = t.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")  # as plan says it
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
        output.emit(status_json(st, tz), out)
    else:
        with output.writing(out) as o:
            render_status(o, st, tz)
