"""`journeyctl db ...`: operating the database itself (retention, moving between stores)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import Format, FormatOpt

if TYPE_CHECKING:
    from journeyctl.run.db_migrate import MigrateReport
    from journeyctl.run.prune import PruneReport

db_app = typer.Typer(
    help="The database itself: prune old history, move to another store.", no_args_is_help=True
)
app.add_typer(db_app, name="db")

# A path or a URL: typer's Path would fold the `//` of `postgresql://`.
DbOpt = Annotated[
    str,
    typer.Option(
        "--db",
        help="SQLite database file, or a postgresql:// URL (best from the environment: --db "
        '"${JOURNEYCTL_DB}").',
    ),
]
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
    db: DbOpt = "journey.db",
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
    from journeyctl.store.open import display_name, exists, open_store

    if not exists(db):
        raise UsageError(f"--db: {display_name(db)} does not exist; `journeyctl run` creates it")
    store = open_store(db)
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


@db_app.command("migrate")
@boundary
def migrate(
    source: Annotated[
        str,
        typer.Option(
            "--from",
            help="The database to copy: a SQLite file, or a postgresql:// URL (best from the "
            'environment: --from "${JOURNEYCTL_DB}").',
            show_default=False,
        ),
    ] = "",
    target: Annotated[
        str,
        typer.Option(
            "--to",
            help="The database to copy into (created when missing): a postgresql:// URL, or a "
            "SQLite file.",
            show_default=False,
        ),
    ] = "",
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="The target already holds a state: delete it and copy over it (refused "
            "without this).",
        ),
    ] = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """Copy a whole state (contacts, events, enrollments, the ledger, runs, meta) into another
    database, table by table, verified by row counts and a checksum per table before the
    target commits. Stop `run`, `serve` and listeners first: a run holding the lock is
    refused."""
    import sys

    from journeyctl.errors import UsageError
    from journeyctl.run.db_migrate import migrate as do_migrate

    if not source or not target:
        raise UsageError("db migrate: give --from and --to")
    progress = None
    if sys.stderr.isatty():

        def progress(table: str, rows: int) -> None:
            print(f"\r{table}: {rows:,} row(s)", end="", file=sys.stderr, flush=True)

    report = do_migrate(source, target, replace=replace, progress=progress)
    if progress is not None:
        print(file=sys.stderr)
    if fmt is Format.json:
        print(json.dumps(migrate_json(report), ensure_ascii=False, indent=2))
    else:
        print(migrate_text(report))


def migrate_json(r: MigrateReport) -> dict[str, Any]:
    return {
        "from": r.source,
        "to": r.target,
        "replaced": r.replaced,
        "tables": [
            {
                "table": t.table,
                "source_rows": t.source_rows,
                "target_rows": t.target_rows,
                "source_checksum": t.source_checksum,
                "target_checksum": t.target_checksum,
                "ok": t.ok,
            }
            for t in r.tables
        ],
        "ok": all(t.ok for t in r.tables),
    }


def migrate_text(r: MigrateReport) -> str:
    lines = [f"copied {r.source} -> {r.target}"]
    if r.replaced:
        held = ", ".join(f"{t} {n:,}" for t, n in r.replaced.items())
        lines.append(f"  replaced what the target held ({held} rows)")
    width = max(len(t.table) for t in r.tables)
    for t in r.tables:
        mark = "ok" if t.ok else "MISMATCH"
        lines.append(
            f"  {t.table:<{width}}  {t.target_rows:>10,} row(s)  sha256-sum "
            f"{t.target_checksum[:16]}  {mark}"
        )
    lines.append("row counts and checksums match on both sides")
    return "\n".join(lines)
