"""`journeyctl messages`: what was delivered, or failed, is retrying or was skipped (SPEC §4
JSON shape + message_id, delivered_at, and the delivery's status, attempts and error)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import DbOpt, Format, OutOpt, ReportFormatOpt, format_for


class Which(StrEnum):
    sent = "sent"
    failed = "failed"
    retrying = "retrying"
    skipped = "skipped"
    pending = "pending"
    attempting = "attempting"
    all = "all"


@app.command()
@boundary
def messages(
    project_dir: Annotated[
        Path | None,
        typer.Argument(
            metavar="DIR",
            help="Project directory: its journey.yaml timezone is the one for contacts without "
            "a timezone (default: the one the last run recorded in the database).",
            show_default=False,
        ),
    ] = None,
    db: DbOpt = "journey.db",
    contact: Annotated[str | None, typer.Option("--contact", help="Only this contact id.")] = None,
    sequence: Annotated[str | None, typer.Option("--sequence", help="Only this sequence.")] = None,
    status: Annotated[
        Which,
        typer.Option(
            "--status",
            help="sent (delivered), failed (for good, with the error), retrying (with the error "
            "and the next attempt), skipped (with the reason), pending (decided, not yet handed "
            "to a channel), attempting (in flight), or all.",
        ),
    ] = Which.sent,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only messages whose time (`at`) is at or after this instant (ISO 8601, or a "
            "date in the project timezone).",
        ),
    ] = None,
    fmt: ReportFormatOpt = None,
    out: OutOpt = None,
) -> None:
    """What was sent, or failed, is retrying, was skipped: one row per message, times in the
    contact's timezone."""
    fmt = format_for(fmt, out, Format)
    from journeyctl.cli.db_render import (
        messages_doc,
        open_existing,
        render_messages,
        write_messages_json,
    )
    from journeyctl.cli.loading import project_timezone
    from journeyctl.cli.output import Output
    from journeyctl.data.instants import parse_instant
    from journeyctl.store.queries import iter_stored_messages, stored_messages

    project_tz = project_timezone(project_dir)
    store = open_existing(db)
    try:
        tz = project_tz or store.get_meta("timezone") or "UTC"
        t0 = parse_instant(since, tz, option="--since") if since else None
        statuses = None if status is Which.all else (status.value,)
        output = Output.from_environment()
        if fmt is Format.json:
            # Written as read from the database: memory does not follow the ledger's size.
            with output.stream(out) as write:
                write_messages_json(
                    iter_stored_messages(
                        store, statuses=statuses, contact=contact, sequence=sequence, since=t0
                    ),
                    tz,
                    write,
                )
            return
        # The table's columns fit every row, so it is built whole.
        rows = stored_messages(
            store, statuses=statuses, contact=contact, sequence=sequence, since=t0
        )
    finally:
        store.close()
    with output.writing(out) as o:
        render_messages(o, messages_doc(rows, tz), only_sent=status is Which.sent, project_tz=tz)
