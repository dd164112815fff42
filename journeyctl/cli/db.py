"""`journeyctl db ...`: operating the database itself (retention, moving between stores)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import DbOpt, Format, FormatOpt

if TYPE_CHECKING:
    from journeyctl.run.prune import PruneReport

db_app = typer.Typer(
    help="The database itself: prune old history, move to another store.", no_args_is_help=True
)
app.add_typer(db_app, name="db")

OptionalProjectDir = Annotated[
    Path | None,
    typer.Argument(
        metavar="DIR",
        help="Project directory: its timezone reads dates in --before, and a frequency cap "
        "looking back more than 30 days moves the latest cut-off allowed back as far.",
        show_default=False,
    ),
]


@db_app.command("prune")
@boundary
def prune(
    project_dir: OptionalProjectDir = None,
    before: Annotated[
        str | None,
        typer.Option(
            "--before",
            help="Prune history older than this: a date or ISO 8601 time, or an age such as "
            "180d or 26w (counted back from now). At least 30 days back.",
            show_default=False,
        ),
    ] = None,
    db: DbOpt = Path("journey.db"),
    events: Annotated[
        bool,
        typer.Option(
            "--events",
            help="Also prune processed events older than the cut-off (conditions that count "
            "or look for events then see fewer: docs/scale-out.md).",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be pruned; delete nothing.")
    ] = False,
    now: Annotated[
        str | None,
        typer.Option("--now", help="The clock ages count from (ISO 8601); default: now."),
    ] = None,
    fmt: FormatOpt = Format.text,
) -> None:
    """Delete ledger rows and runs (with --events, processed events too) older than --before
    that nothing needs any more: never a delivery still to make, never a row of an enrollment
    still active. One transaction."""
    from journeyctl.cli.db_render import open_existing
    from journeyctl.clock import SystemClock
    from journeyctl.data.instants import parse_instant
    from journeyctl.errors import UsageError
    from journeyctl.run.prune import FLOOR, check_cutoff, run_prune

    if not before:
        raise UsageError("db prune: give --before (a date, or an age such as 180d)")
    settings = _settings(project_dir)
    tz = settings.timezone if settings is not None else "UTC"
    t_now = parse_instant(now, tz, option="--now") if now else SystemClock().now()
    cutoff = _cutoff(before, t_now, tz)
    floor = FLOOR
    cap = settings.frequency_cap if settings is not None else None
    if cap is not None:
        floor = max(floor, cap.per.approx())
    check_cutoff(cutoff, t_now, floor)
    store = open_existing(db)
    try:
        report = run_prune(store, store.conn, cutoff, events=events, dry_run=dry_run)
    finally:
        store.close()
    if fmt is Format.json:
        print(json.dumps(prune_json(report), ensure_ascii=False, indent=2))
    else:
        print(prune_text(report, tz))


def _settings(project_dir: Path | None) -> Any:
    if project_dir is None:
        return None
    from journeyctl.errors import ProjectError, UsageError
    from journeyctl.spec.loader import load_settings

    if not project_dir.is_dir():
        raise UsageError(f"{project_dir}: not a project directory")
    settings, src = load_settings(project_dir)
    bad = [d for d in src.diagnostics if d.is_error] if src is not None else []
    if bad:
        raise ProjectError(bad, "journey.yaml has errors; run `journeyctl validate`")
    return settings


def _cutoff(text: str, now: datetime, tz: str) -> datetime:
    """An age (`180d`, `26w`, counted back from `now`) or an instant."""
    from journeyctl.cli.options import parse_interval
    from journeyctl.data.instants import parse_instant

    s = text.strip()
    if s[:1].isdigit() and s[-1:] in "wdhms" and "-" not in s:
        return now - parse_interval(s, "--before")
    return parse_instant(s, tz, option="--before")


def prune_json(r: PruneReport) -> dict[str, Any]:
    p = r.pruned
    return {
        "before": r.before.isoformat(),
        "dry_run": r.dry_run,
        "deleted": {"ledger": p.ledger, "runs": p.runs, "events": p.events},
        "kept": {"ledger_older": p.ledger_kept},
    }


def prune_text(r: PruneReport, tz: str) -> str:
    from zoneinfo import ZoneInfo

    p = r.pruned
    when = r.before.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")
    verb = "would delete" if r.dry_run else "deleted"
    lines = [
        f"history before {when}" + (" (dry run: nothing deleted)" if r.dry_run else ""),
        f"  ledger  {verb} {p.ledger:,} row(s); kept {p.ledger_kept:,} older row(s) "
        "(still to deliver, or of enrollments not ended before the cut-off)",
        f"  runs    {verb} {p.runs:,} row(s) (the latest run is always kept)",
        f"  events  {verb} {p.events:,} processed event(s)"
        if p.events is not None
        else "  events  kept (--events prunes processed events too)",
    ]
    return "\n".join(lines)
