"""`journeyctl simulate`: exact dry-runs over real contact lists."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
    from datetime import datetime

    from journeyctl.cli.output import Output
    from journeyctl.run.imports import InputReport
    from journeyctl.simulate.partition import Partition
    from journeyctl.spec.project import Project


class SimFormat(StrEnum):
    text = "text"
    json = "json"
    csv = "csv"
    jsonl = "jsonl"
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
            "text, json, csv, jsonl (one message per line, in the contacts file's order, each"
            " contact's messages in time order; no summary) or html (a page with the flows,"
            " charts and stories; needs --out). Default: text, or as --out's name ends (.csv,"
            " .json, .jsonl, .html).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the output to this file instead of stdout (through a temporary file"
            " renamed into place at the end: never half-written).",
        ),
    ] = None,
    excel: ExcelOpt = None,
    encoding: EncodingOpt = None,
    skip_invalid: SkipInvalidOpt = False,
) -> None:
    """Dry-run the sequences over a contact list: who gets what, when, and why not."""
    from journeyctl.cli.input_render import print_inputs
    from journeyctl.cli.loading import load_project_or_fail
    from journeyctl.cli.options import csv_bom, format_for
    from journeyctl.cli.output import Output, escape_controls
    from journeyctl.data.instants import parse_instant
    from journeyctl.simulate.partition import Partition

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
    output = Output.from_environment()
    # The input is split by contact chunk into a temporary file as it is read, and every
    # result is written or added up as its chunk is simulated: memory follows the chunks in
    # flight, not the files or the messages (docs/decisions/streaming.md).
    partition = Partition()
    try:
        inputs = _read_inputs(project, contacts, events, encoding, skip_invalid, partition)
        print_inputs(output, inputs)
        held = _simulate_and_write(
            output, project, partition, inputs, t0, t0 + timedelta(days=days), sequence,
            parse_assume(assume), seed, fmt, out, csv_bom(excel, out), skip_invalid,
        )  # fmt: skip
    finally:
        partition.close()
    # SPEC §5: a message that cannot be rendered for a contact's data is `skipped` with
    # reason render_error, and the contact waits at that step (as `run` holds it): say where.
    count, reasons = held
    for problem in reasons:
        output.err.print(f"error: {escape_controls(problem)}", markup=False, highlight=False)
    if count:
        output.err.print(
            f"{count} enrollment(s) held by content or conditions that fail for the "
            "contact's data (run fails those messages and exits 1)",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(1)


def _read_inputs(
    project: Project,
    contacts: Path,
    events: Path | None,
    encoding: str | None,
    skip_invalid: bool,
    partition: Partition,
) -> list[InputReport]:
    """Both files read, checked (all-or-nothing, or --skip-invalid) and partitioned."""
    from journeyctl.cli.loading import read_contacts_input, read_events_input

    inputs = [
        read_contacts_input(
            project, contacts, encoding, skip_invalid=skip_invalid, rows=partition.add_contact_row
        )[1]
    ]
    if events is not None:
        inputs.append(
            read_events_input(
                project, events, encoding, skip_invalid=skip_invalid, rows=partition.add_event_row
            )[1]
        )
    return inputs


def _simulate_and_write(
    output: Output,
    project: Project,
    partition: Partition,
    inputs: list[InputReport],
    t0: datetime,
    t1: datetime,
    sequence: list[str] | None,
    rates: tuple[tuple[str, float], ...],
    seed: int,
    fmt: SimFormat,
    out: Path | None,
    bom: bool,
    skip_invalid: bool,
) -> tuple[int, list[str]]:
    """Simulate chunk by chunk, writing the output; (held enrollments, first reasons)."""
    from contextlib import nullcontext
    from zoneinfo import ZoneInfo

    from journeyctl.cli.input_render import rejected_doc
    from journeyctl.cli.sim_render import render_table, write_csv, write_json, write_rows
    from journeyctl.engine.advance import Assumptions
    from journeyctl.engine.make import make_engine
    from journeyctl.reporting.sim_sort import SortedSpill
    from journeyctl.reporting.sim_stream import ChunkOut, ChunkRender, Totals, start_end
    from journeyctl.simulate.parallel import run_chunks
    from journeyctl.simulate.replay import Simulation
    from journeyctl.simulate.spikes import crowd_starts, spike_warning, spikes_in

    partition.seal()
    engine = make_engine(
        project, subjects_only=True, assumptions=Assumptions(rates, seed) if rates else None
    )
    if sequence:
        project = replace(
            project, sequences={k: v for k, v in project.sequences.items() if k in sequence}
        )
        engine = replace(engine, project=project)
    names = sorted(set(sequence) if sequence else project.sequences)
    paused = [sid for sid in names if project.sequences[sid].model.paused]
    tz = project.settings.timezone
    totals = Totals(names, paused)
    render = ChunkRender(str(fmt.value), tz, set(crowd_starts(project)))
    messages, enrollments = SortedSpill(), SortedSpill()
    parts: list[Simulation] = []  # html: the chunks' decisions, aggregated for the page
    try:
        # jsonl is written as its chunks come; json and csv once the sort has every message
        streaming = output.stream_bytes(out) if fmt is SimFormat.jsonl else nullcontext(None)
        with streaming as write, output.progress("simulating", total=partition.contacts) as advance:

            def consume(i: int, part: ChunkOut) -> None:
                totals.add(part)
                if part.sim is not None:
                    parts.append(part.sim)
                elif write is not None:
                    write_rows(write, part.messages, b"")
                else:
                    messages.add(part.messages)
                    enrollments.add(part.enrollment_rows)

            run_chunks(
                project, partition, list(partition.sizes()), t0, t1, engine=engine,
                finish=render.finish, on_result=consume, progress=advance,
            )  # fmt: skip
        ptz = ZoneInfo(tz)
        warnings = [
            spike_warning(sid, n, first.astimezone(ptz).isoformat(timespec="minutes"))
            for sid, first, n in spikes_in(totals.first_entries, partition.contacts)
        ]
        warnings += [
            f"paused: {sid} (paused: true in its file): no contact enters it" for sid in paused
        ]
        for warning in warnings:
            output.err.print(warning, markup=False, highlight=False)
        begin, end = start_end(t0, t1, tz)
        tail: dict[str, Any] = {"summary": totals.summary_doc(), "per_day": totals.per_day_doc()}
        if skip_invalid:
            tail["rejected"] = rejected_doc(inputs)
        if fmt is SimFormat.html:
            from journeyctl.pages.simulate_page import simulate_page

            sim = Simulation(t0, t1)
            for part_sim in parts:
                sim.messages += part_sim.messages
                sim.enrollments += part_sim.enrollments
                sim.zones.update(part_sim.zones)
            page = simulate_page(
                project, sim, names, partition.contacts, partition.inputs_of, engine,
                warnings=warnings,
            )  # fmt: skip
            output.emit(page, out)
        elif fmt is SimFormat.json:
            with output.stream_bytes(out) as write:
                head = {"start": begin, "end": end}
                write_json(write, head, messages.merged(), enrollments.merged(), tail)
        elif fmt is SimFormat.csv:
            with output.stream_bytes(out, bom=bom) as write:
                write_csv(write, messages.merged())
        elif fmt is SimFormat.text:
            doc = {"start": begin, "end": end, **tail}
            render_table(output, doc, partition.contacts, out, totals.enrollments)
    finally:
        messages.close()
        enrollments.close()
    return totals.held, list(totals.held_reasons)
