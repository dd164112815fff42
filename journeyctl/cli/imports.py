"""`journeyctl contacts import` and `journeyctl events import`: the imports of `run`, alone.

All-or-nothing (one transaction) and idempotent: importing the same file again changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import DbOpt, EncodingOpt, SkipInvalidOpt

if TYPE_CHECKING:
    from journeyctl.run.imports import InputReport

contacts_app = typer.Typer(help="Contacts in the database.", no_args_is_help=True)
events_app = typer.Typer(help="Events in the database.", no_args_is_help=True)
app.add_typer(contacts_app, name="contacts")
app.add_typer(events_app, name="events")

FileArgs = Annotated[
    list[str],
    typer.Argument(
        metavar="[DIR] FILE",
        help="Project directory (journey.yaml: field types, max_age; default: .), then the CSV "
        "or JSONL file.",
        show_default=False,
    ),
]
ImportNowOpt = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="The time of the import (ISO 8601 with offset, or a date in the project "
        "timezone): events older than events.max_age by then never enroll; default: now.",
    ),
]
ProjectOpt = Annotated[
    Path | None,
    typer.Option(
        "--project",
        help="Deprecated: give the project directory first, as in every command.",
        hidden=True,
    ),
]


def _dir_and_file(args: list[str], project: Path | None, command: str) -> tuple[Path, Path]:
    """`[DIR] FILE`, or the deprecated `FILE --project DIR` (with a note on stderr)."""
    from journeyctl.cli.options import deprecated, leading_dir
    from journeyctl.errors import UsageError

    project_dir, (name,) = leading_dir(args, ("FILE",), command)
    if project is not None:
        if len(args) == 2:
            raise UsageError("give the project directory once: first, or with --project")
        deprecated(f"{command} FILE --project DIR", f"{command} DIR FILE")
        project_dir = project
    file = Path(name)
    if not file.is_file():
        raise UsageError(f"{name}: no such file")
    return project_dir, file


@contacts_app.command("import")
@boundary
def import_contacts(
    args: FileArgs,
    db: DbOpt = "journey.db",
    project: ProjectOpt = None,
    now: ImportNowOpt = None,
    encoding: EncodingOpt = None,
    skip_invalid: SkipInvalidOpt = False,
) -> None:
    """Insert or update contacts (typed by journey.yaml)."""
    from journeyctl.cli.input_render import print_inputs
    from journeyctl.cli.loading import check_contacts_input, load_project_or_fail
    from journeyctl.cli.output import Output
    from journeyctl.data.contacts import read_again
    from journeyctl.run.imports import import_contacts as do_import
    from journeyctl.store.open import open_store

    project_dir, file = _dir_and_file(args, project, "contacts import")
    loaded = load_project_or_fail(project_dir)
    t = _now(now, loaded.settings.timezone)
    # Two streamed passes, so a million contacts never sit in memory (issue 14): the first
    # checks the whole file (and writes the rejects) before the database is opened, exactly
    # as a read into a list did; the second reads the good rows again into the one transaction.
    first, report = check_contacts_input(loaded, file, encoding, skip_invalid=skip_invalid)
    store = open_store(db)
    try:
        counts = do_import(store, read_again(file, loaded.settings, first, encoding=encoding), t)
    finally:
        store.close()
    print_inputs(Output.from_environment(), [report])
    print(
        f"imported {counts.contacts_seen} contact(s): {counts.contacts_new} new{_left_out(report)}"
    )


@events_app.command("import")
@boundary
def import_events(
    args: FileArgs,
    db: DbOpt = "journey.db",
    project: ProjectOpt = None,
    now: ImportNowOpt = None,
    encoding: EncodingOpt = None,
    skip_invalid: SkipInvalidOpt = False,
) -> None:
    """Add events not seen before; ones older than events.max_age never enroll."""
    from journeyctl.cli.input_render import print_inputs
    from journeyctl.cli.loading import load_project_or_fail, read_events_input
    from journeyctl.cli.output import Output
    from journeyctl.run.imports import import_events as do_import
    from journeyctl.store.open import open_store

    project_dir, file = _dir_and_file(args, project, "events import")
    loaded = load_project_or_fail(project_dir)
    t = _now(now, loaded.settings.timezone)
    happened, report = read_events_input(loaded, file, encoding, skip_invalid=skip_invalid)
    store = open_store(db)
    try:
        counts = do_import(
            store, happened, t, loaded.settings.events.max_age.approx(),
            source=file, skip_invalid=skip_invalid,
        )  # fmt: skip
    finally:
        store.close()
    report.unknown_contact = counts.events_unknown
    report.diagnostics += counts.unknown
    print_inputs(Output.from_environment(), [report])
    skipped = f", {counts.events_unknown} skipped (unknown contact)" if skip_invalid else ""
    print(
        f"imported {counts.events_seen} event(s): {counts.events_new} new{skipped}"
        f"{_left_out(report)}"
    )


def _left_out(report: InputReport) -> str:
    """`; 5 rejected (written to contacts.rejects.csv)` when --skip-invalid left rows out."""
    if not report.rejected:
        return ""
    return f"; {report.rejected} bad row(s) rejected (written to {report.rejects})"


def _now(text: str | None, tz: str) -> datetime:
    from journeyctl.clock import SystemClock
    from journeyctl.data.instants import parse_instant

    return parse_instant(text, tz, option="--now") if text else SystemClock().now()
