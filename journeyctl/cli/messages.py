"""`journeyctl messages`: what was delivered (SPEC §4 JSON shape + message_id, delivered_at)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import DbOpt, Format


@app.command()
@boundary
def messages(
    db: DbOpt = Path("journey.db"),
    contact: Annotated[str | None, typer.Option("--contact", help="Only this contact id.")] = None,
    sequence: Annotated[str | None, typer.Option("--sequence", help="Only this sequence.")] = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
) -> None:
    """What was sent: one row per delivered message, times in the contact's timezone."""
    from journeyctl.cli.db_render import messages_doc, open_existing, render_messages
    from journeyctl.cli.output import Output
    from journeyctl.store.queries import delivered

    store = open_existing(db)
    try:
        tz = store.get_meta("timezone") or "UTC"
        rows = delivered(store, contact=contact, sequence=sequence)
    finally:
        store.close()
    doc = messages_doc(rows, tz)
    output = Output.from_environment()
    if fmt is Format.json:
        import json

        output.data(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        render_messages(output, doc)
