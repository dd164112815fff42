"""`journeyctl run`: one tick from cron — import, enroll, advance, deliver, record, exit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import ContactsOpt, DbOpt, EncodingOpt, EventsOpt, Format, NowOpt


@app.command()
@boundary
def run(
    project_dir: Annotated[Path, typer.Argument(help="Project directory.")] = Path("."),
    db: DbOpt = Path("journey.db"),
    contacts: ContactsOpt = None,
    events: EventsOpt = None,
    now: NowOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Decide and render, deliver nothing, write nothing.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option(min=1, help="At most N contacts advanced and N deliveries.")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
    encoding: EncodingOpt = None,
) -> None:
    """One tick, safe to call from cron every minute (exit codes: docs/run.md)."""
    from journeyctl.cli.loading import load_contacts, load_events, load_project_or_fail
    from journeyctl.cli.output import Output
    from journeyctl.cli.run_render import run_json, run_line
    from journeyctl.clock import SystemClock
    from journeyctl.executor import run_once
    from journeyctl.instants import parse_instant

    project = load_project_or_fail(project_dir)
    tz = project.settings.timezone
    clock = SystemClock()
    t = parse_instant(now, tz, option="--now") if now else clock.now()
    people = load_contacts(project, contacts, encoding) if contacts else []
    happened = load_events(project, events, encoding)
    result = run_once(
        project, db, now=t, clock=clock.now, contacts=people, events=happened,
        events_source=events, dry_run=dry_run, limit=limit,
    )  # fmt: skip
    output = Output.from_environment()
    if result.locked:
        output.err.print(
            f"another run holds the lock on {db}; nothing to do (exit 0)",
            markup=False,
            highlight=False,
        )
    if fmt is Format.json:
        output.data(run_json(result, tz))
    elif not result.locked:
        output.data(run_line(result, tz))
    for problem in result.report.errors if result.report else []:
        output.err.print(f"error: {problem}", markup=False, highlight=False)
    raise typer.Exit(int(result.exit_code))
