"""`journeyctl run`: one tick from cron — import, enroll, advance, deliver, record, exit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from journeyctl.cli import app, invocation
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import (
    ContactsOpt,
    DbOpt,
    EncodingOpt,
    EventsOpt,
    Format,
    FormatOpt,
    NowOpt,
    SkipInvalidOpt,
)

if TYPE_CHECKING:
    from journeyctl.engine.model import Contact, Event


@app.command()
@boundary
def run(
    ctx: typer.Context,
    project_dir: Annotated[Path, typer.Argument(help="Project directory.")] = Path("."),
    db: DbOpt = "journey.db",
    contacts: ContactsOpt = None,
    events: EventsOpt = None,
    now: NowOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Decide and render, deliver nothing, write nothing.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option(min=1, help="At most N contacts advanced and N deliveries.")
    ] = None,
    fmt: FormatOpt = Format.text,
    encoding: EncodingOpt = None,
    skip_invalid: SkipInvalidOpt = False,
) -> None:
    """One tick, safe to call from cron every minute (exit codes: docs/run.md).

    A file with bad rows is held back whole (nothing of it imported) and the tick still runs
    on what the database already has, exit 1; with --skip-invalid its good rows are imported.
    """
    from journeyctl.cli.input_render import print_inputs
    from journeyctl.cli.loading import (
        load_project_or_fail,
        read_contacts_input,
        read_events_input,
    )
    from journeyctl.cli.output import Output, escape_controls
    from journeyctl.cli.run_render import run_json, run_line
    from journeyctl.clock import SystemClock
    from journeyctl.data.instants import parse_instant
    from journeyctl.run.once import run_once

    fingerprint = invocation(ctx).fingerprint  # the idle attempt's hash of the files
    project = load_project_or_fail(project_dir, fingerprint=fingerprint)
    tz = project.settings.timezone
    clock = SystemClock()
    t = parse_instant(now, tz, option="--now") if now else clock.now()
    # A bad file is held back, not fatal: what is already due still goes (docs/run.md).
    inputs = []
    people: list[Contact] = []
    happened: list[Event] = []
    if contacts is not None:
        people, report = read_contacts_input(
            project, contacts, encoding, skip_invalid=skip_invalid, hold_back=True
        )
        inputs.append(report)
    if events is not None:
        happened, report = read_events_input(
            project, events, encoding, skip_invalid=skip_invalid, hold_back=True
        )
        inputs.append(report)
    result = run_once(
        project, db, now=t, clock=clock.now, contacts=people, events=happened,
        events_source=events, dry_run=dry_run, limit=limit, skip_invalid=skip_invalid,
        inputs=inputs, record_idle=fingerprint is not None,
    )  # fmt: skip
    output = Output.from_environment()
    print_inputs(output, result.inputs)
    if result.locked:
        output.err.print(
            f"another run holds the lock on {db}; nothing to do (exit {int(result.exit_code)})",
            markup=False,
            highlight=False,
        )
    elif any(r.held_back for r in result.inputs):
        output.err.print(
            "error: the tick ran without the file(s) held back, on what the database already "
            "had (messages due, retries, enrollments in flight); exit 1",
            markup=False,
            highlight=False,
        )
    if fmt is Format.json:
        output.data(run_json(result, tz))
    elif not result.locked:
        output.data(run_line(result, tz))
    for problem in result.report.errors if result.report else []:
        output.err.print(f"error: {escape_controls(problem)}", markup=False, highlight=False)
    if result.report is not None and result.report.unlisted:
        output.err.print(
            f"error: ... and {result.report.unlisted} more (journeyctl status lists them)",
            markup=False,
            highlight=False,
        )
    raise typer.Exit(int(result.exit_code))
