"""`journeyctl plan`: what the current files would do to the enrollments in a database."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import DbOpt, OutOpt, format_option


class PlanFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


@app.command()
@boundary
def plan(
    project_dir: Annotated[Path, typer.Argument(help="Project directory.")] = Path("."),
    db: DbOpt = "journey.db",
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            help="Git ref of the files before the edit: also show which of the next --window's "
            "messages are new or gone.",
        ),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="The plan's clock: ISO 8601 with offset, or a date (project tz). Default: the "
            "last run's clock in the database, else the wall clock.",
        ),
    ] = None,
    window: Annotated[
        str,
        typer.Option("--window", help="How far ahead to list messages: a duration (30m, 4h, 2d)."),
    ] = "24h",
    out: OutOpt = None,
    fmt: Annotated[
        PlanFormat | None,
        format_option(
            PlanFormat,
            "text, markdown or json. Default: text, or as --out's name ends (.json, .md).",
        ),
    ] = None,
) -> None:
    """Contacts per step of each changed sequence and what happens to them (continue, move,
    exit), waits they keep, `migrate:` lines for removed steps, new sequences, and the
    messages of the next --window. Reads the database, never writes it.

    Exit status 0 whatever the plan says; 2 for usage errors, 1 when the files do not load.
    """
    import json
    from contextlib import ExitStack

    from journeyctl.cli.options import format_for

    fmt = format_for(fmt, out, PlanFormat)

    from journeyctl.cli.db_render import open_existing
    from journeyctl.cli.loading import load_project_or_fail
    from journeyctl.cli.output import Output
    from journeyctl.clock import SystemClock
    from journeyctl.data.instants import parse_instant
    from journeyctl.errors import UsageError
    from journeyctl.review.plan import ClockSource, make_plan, to_markdown, to_text
    from journeyctl.spec.durations import Duration
    from journeyctl.store.queries import last_run_clock

    try:
        span = Duration.parse(window)
    except ValueError as exc:
        raise UsageError(f"--window: {exc}; write e.g. 30m, 4h, 2d or 1w") from None
    if span.is_negative or span.is_zero:
        raise UsageError(f"--window: {window!r} must be longer than zero")
    project = load_project_or_fail(project_dir)
    with ExitStack() as stack:
        old = None
        if base is not None:
            from journeyctl.review.sides import base_side

            old = stack.enter_context(base_side(project_dir, base)).project
        store = open_existing(db)
        stack.callback(store.close)
        clock: ClockSource = "--now"
        if now:
            t = parse_instant(now, project.settings.timezone, option="--now")
        else:
            last = last_run_clock(store)
            t, clock = (
                (last, "last run") if last is not None else (SystemClock().now(), "wall clock")
            )
        result = make_plan(project, store, t, base=old, base_label=base, window=span, clock=clock)
    if fmt is PlanFormat.json:
        text = json.dumps(result.to_json(), ensure_ascii=False, indent=2)
    elif fmt is PlanFormat.markdown:
        text = to_markdown(result)
    else:
        text = to_text(result)
    Output.from_environment().emit(text, out)
