"""`journeyctl explain`: one contact's story, with every decision's inputs and reasons."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import (
    ContactsOpt,
    EncodingOpt,
    EventsOpt,
    Format,
    OutOpt,
    ReportFormatOpt,
    format_for,
)
from journeyctl.errors import UsageError


@app.command()
@boundary
def explain(
    args: Annotated[
        list[str],
        typer.Argument(
            metavar="[DIR] CONTACT",
            help="Project directory (default: .), then the contact's id.",
            show_default=False,
        ),
    ],
    db: Annotated[
        str | None,
        typer.Option("--db", metavar="<path|url>", help="Explain from a run's database."),
    ] = None,
    contacts: ContactsOpt = None,
    events: EventsOpt = None,
    start: Annotated[str | None, typer.Option(help="Simulation start (with --contacts).")] = None,
    days: Annotated[int, typer.Option(min=1, help="Simulation length.")] = 30,
    fmt: ReportFormatOpt = None,
    out: OutOpt = None,
    encoding: EncodingOpt = None,
) -> None:
    """Why a contact got (or did not get) each message: the path, branch values, deferrals."""
    fmt = format_for(fmt, out, Format)
    import json

    from journeyctl.cli.loading import load_contacts, load_events, load_project_or_fail
    from journeyctl.cli.options import leading_dir
    from journeyctl.cli.output import Output
    from journeyctl.data.instants import parse_instant
    from journeyctl.engine.make import make_engine
    from journeyctl.reporting.story import story, story_text
    from journeyctl.simulate.replay import simulate

    project_dir, (contact_id,) = leading_dir(args, ("CONTACT",), "explain")
    project = load_project_or_fail(project_dir)
    if db is not None:
        from journeyctl.cli.explain_db import explain_from_db

        doc = explain_from_db(project, db, contact_id)
    else:
        if contacts is None or start is None:
            raise UsageError(
                "explain needs --db FILE, or --contacts FILE --start DATE [--events FILE]"
            )
        people = [c for c in load_contacts(project, contacts, encoding) if c.id == contact_id]
        if not people:
            raise UsageError(f"contact {contact_id!r} is not in {contacts}")
        history = [e for e in load_events(project, events, encoding) if e.contact_id == contact_id]
        t0 = parse_instant(start, project.settings.timezone)
        engine = make_engine(project)
        sim = simulate(project, people, history, t0, t0 + timedelta(days=days), engine=engine,
                       trace_contacts={contact_id})  # fmt: skip
        from zoneinfo import ZoneInfo

        doc = story(contact_id, ZoneInfo(sim.zones[contact_id]), sim.traces.get(contact_id, []),
                    sim.messages, sim.enrollments)  # fmt: skip
    Output.from_environment().emit(
        json.dumps(doc, ensure_ascii=False, indent=2) if fmt is Format.json else story_text(doc),
        out,
    )
