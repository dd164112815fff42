"""`journeyctl simulate`: exact dry-runs over real contact lists."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import (
    ContactsOpt,
    EncodingOpt,
    EventsOpt,
    ExcelOpt,
    SkipInvalidOpt,
    format_option,
)
from journeyctl.errors import UsageError

if TYPE_CHECKING:
    from journeyctl.engine.model import Event


class SimFormat(StrEnum):
    text = "text"
    json = "json"
    csv = "csv"
    html = "html"


def parse_assume(text: str | None) -> tuple[tuple[str, float], ...]:
    if not text:
        return ()
    out = []
    for part in text.split(","):
        name, sep, rate = part.partition("=")
        try:
            p = float(rate)
        except ValueError:
            p = -1.0
        if not sep or not name.strip() or not 0 <= p <= 1:
            raise UsageError(f"--assume: {part!r} must look like opened=0.3 (a rate in 0..1)")
        out.append((name.strip(), p))
    return tuple(out)


@app.command()
@boundary
def simulate(
    project_dir: Annotated[Path, typer.Argument(help="Project directory.")] = Path("."),
    contacts: ContactsOpt = None,
    events: EventsOpt = None,
    start: Annotated[
        str | None, typer.Option(help="ISO 8601 datetime or date (project tz).")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=3660, help="Length of the period.")] = 30,
    sequence: Annotated[
        list[str] | None, typer.Option("--sequence", help="Only these sequences.")
    ] = None,
    assume: Annotated[
        str | None, typer.Option(help="Synthetic responses, e.g. opened=0.3,clicked=0.05.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for --assume draws.")] = 0,
    fmt: Annotated[
        SimFormat | None,
        format_option(
            SimFormat,
            "text, json, csv or html (a page with the flows, charts and stories; needs --out). "
            "Default: text, or as --out's name ends (.csv, .json, .html).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write the output to this file instead of stdout (written whole)."
        ),
    ] = None,
    excel: ExcelOpt = None,
    encoding: EncodingOpt = None,
    skip_invalid: SkipInvalidOpt = False,
) -> None:
    """Dry-run the sequences over a contact list: who gets what, when, and why not."""
    from zoneinfo import ZoneInfo

    from journeyctl.cli.input_render import print_inputs, rejected_doc
    from journeyctl.cli.loading import (
        load_project_or_fail,
        read_contacts_input,
        read_events_input,
    )
    from journeyctl.cli.options import csv_bom, format_for
    from journeyctl.cli.output import Output, escape_controls
    from journeyctl.cli.sim_render import render_csv, render_table
    from journeyctl.data.instants import parse_instant
    from journeyctl.engine.advance import Assumptions
    from journeyctl.engine.make import make_engine
    from journeyctl.reporting.timeline import to_json
    from journeyctl.simulate.parallel import simulate_parallel

    fmt = format_for(fmt, out, SimFormat)
    if fmt is SimFormat.html and out is None:
        raise UsageError("--format html writes a page: give --out FILE.html")
    if contacts is None or start is None:
        raise UsageError("simulate needs --contacts FILE and --start DATE")
    project = load_project_or_fail(project_dir)
    if sequence:
        unknown = sorted(set(sequence) - set(project.sequences))
        if unknown:
            raise UsageError(f"--sequence: unknown sequence(s): {', '.join(unknown)}")
    t0 = parse_instant(start, project.settings.timezone)
    people, report = read_contacts_input(project, contacts, encoding, skip_invalid=skip_invalid)
    inputs = [report]
    history: list[Event] = []
    if events is not None:
        history, report = read_events_input(project, events, encoding, skip_invalid=skip_invalid)
        inputs.append(report)
    rates = parse_assume(assume)
    engine = make_engine(
        project, subjects_only=True, assumptions=Assumptions(rates, seed) if rates else None
    )
    output = Output.from_environment()
    print_inputs(output, inputs)
    with output.progress("simulating", total=len(people)) as advance:
        if sequence:
            project = replace(
                project, sequences={k: v for k, v in project.sequences.items() if k in sequence}
            )
            engine = replace(engine, project=project)
        sim = simulate_parallel(
            project, people, history, t0, t0 + timedelta(days=days), engine=engine,
            progress=advance,
        )  # fmt: skip
    names = sorted(set(sequence) if sequence else project.sequences)
    paused = [sid for sid in names if project.sequences[sid].model.paused]
    # The page is drawn from aggregates: it never builds the per-message document.
    doc = (
        to_json(sim, names, project.settings.timezone, paused) if fmt is not SimFormat.html else {}
    )
    from journeyctl.simulate.spikes import first_check_spikes, spike_warning

    ptz = ZoneInfo(project.settings.timezone)
    warnings = []
    for sid, first, n in first_check_spikes(project, sim.enrollments, len(people)):
        when = first.astimezone(ptz).isoformat(timespec="minutes")
        warnings.append(spike_warning(sid, n, when))
        output.err.print(warnings[-1], markup=False, highlight=False)
    for sid in paused:
        warnings.append(f"paused: {sid} (paused: true in its file): no contact enters it")
        output.err.print(warnings[-1], markup=False, highlight=False)
    if skip_invalid:
        doc["rejected"] = rejected_doc(inputs)
    if fmt is SimFormat.html:
        from journeyctl.pages.simulate_page import simulate_page

        page = simulate_page(project, sim, names, people, history, engine, warnings=warnings)
        output.emit(page, out)
    elif fmt is SimFormat.json:
        import json

        output.emit(json.dumps(doc, ensure_ascii=False, indent=2), out)
    elif fmt is SimFormat.csv:
        output.emit(render_csv(doc), out, bom=csv_bom(excel, out))
    else:
        render_table(output, doc, len(people), out)
    # SPEC §5: a message that cannot be rendered for a contact's data is `skipped` with
    # reason render_error, and the contact waits at that step (as `run` holds it): say where.
    held = [e.reason for e in sim.enrollments if e.held is not None and e.reason]
    for problem in list(dict.fromkeys(held))[:20]:
        output.err.print(f"error: {escape_controls(problem)}", markup=False, highlight=False)
    if held:
        output.err.print(
            f"{len(held)} enrollment(s) held by content or conditions that fail for the "
            "contact's data (run fails those messages and exits 1)",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(1)
