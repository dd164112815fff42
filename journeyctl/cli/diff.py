"""`journeyctl diff`: what changed between a git ref and the working tree, in a reviewer's words."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import ContactsOpt, EncodingOpt, EventsOpt, OutOpt, format_option
from journeyctl.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from journeyctl.cli.output import Output
    from journeyctl.engine.model import Contact, Event
    from journeyctl.review.impact import Impact
    from journeyctl.review.semantic_diff import Side
    from journeyctl.spec.project import Project


class DiffFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"
    html = "html"


@app.command()
@boundary
def diff(
    project_dir: Annotated[Path, typer.Argument(help="Project directory.")] = Path("."),
    base: Annotated[
        str, typer.Option("--base", help="Git ref to compare the working tree with.")
    ] = "HEAD",
    fmt: Annotated[
        DiffFormat,
        format_option(
            DiffFormat,
            "text, markdown, json or html (the impact as a page: flows before and after side "
            "by side with their numbers; needs --contacts and --out).",
        ),
    ] = (DiffFormat.text),
    out: OutOpt = None,
    exit_code: Annotated[
        bool,
        typer.Option(
            "--exit-code", help="Exit 1 when anything changed, 0 when nothing did (for CI)."
        ),
    ] = False,
    contacts: ContactsOpt = None,
    events: EventsOpt = None,
    start: Annotated[
        str | None,
        typer.Option(help="With --contacts: start of the simulated period (project tz)."),
    ] = None,
    days: Annotated[
        int, typer.Option(min=1, max=3660, help="With --contacts: length of the period.")
    ] = 30,
    encoding: EncodingOpt = None,
) -> None:
    """Compare the sequences with a git ref: steps, timing, copy, triggers and policy.

    Exit status is 0 (also when there are changes) unless --exit-code is given; then 0 means
    no changes and 1 means changes, like `terraform plan -detailed-exitcode` and `git diff
    --exit-code`. Errors exit 2 (usage, unknown ref) or 1 (a side that does not load).

    With --contacts and --start, both versions are also simulated on the same data and the
    change's impact follows: per sequence and step, messages added, removed and moved, the
    contacts affected and the timing shift (docs/decisions/impact.md).
    """
    import json

    from journeyctl.cli.output import Output
    from journeyctl.review.render import to_markdown, to_text
    from journeyctl.review.semantic_diff import diff_projects
    from journeyctl.review.sides import base_side, load_side

    if contacts is None and (events is not None or start is not None):
        raise UsageError("--events and --start go with --contacts (the impact of the change)")
    if contacts is not None and start is None:
        raise UsageError("--contacts needs --start DATE: the period both versions simulate")
    if fmt is DiffFormat.html and (contacts is None or out is None):
        raise UsageError(
            "--format html draws the change's impact: give --contacts F --start DATE and "
            "--out FILE.html"
        )
    output = Output.from_environment()
    impact = None
    page = ""
    new = load_side(project_dir)
    with base_side(project_dir, base) as old:
        result = diff_projects(old, new, base=base)
        if contacts is not None and start is not None:
            impact = _impact(output, old, new, base, contacts, events, start, days, encoding)
            if fmt is DiffFormat.html:  # the base's files exist only inside this block
                from journeyctl.pages.impact_page import impact_page

                page = impact_page(impact, result, old.project, new.project)
    if fmt is DiffFormat.html:
        text = page
    elif fmt is DiffFormat.json:
        doc = result.to_json()
        if impact is not None:
            doc["impact"] = impact.to_json()
        text = json.dumps(doc, ensure_ascii=False, indent=2)
    elif fmt is DiffFormat.markdown:
        text = to_markdown(result, _mermaid(new.project))
        if impact is not None:
            from journeyctl.review.impact_render import to_markdown as impact_markdown

            text = text.rstrip("\n") + "\n\n" + impact_markdown(impact)
    else:
        from journeyctl.cli.tables import fit_for_people

        text = fit_for_people(to_text(result), output.out, out)
        if impact is not None:
            from journeyctl.cli.impact_render import impact_text
            from journeyctl.cli.output import FILE_WIDTH

            width = FILE_WIDTH if out is not None else output.out.width
            text += "\n" + impact_text(impact, width)
    output.emit(text, out)
    if exit_code and result.changed:
        raise typer.Exit(ExitCode.PROBLEMS)


def _mermaid(project: Project) -> Callable[[str], str | None]:
    """The flow of a sequence after the change, as Mermaid (journeyctl.graph)."""
    from journeyctl.graph import render

    def one(sequence_id: str) -> str | None:
        seq = project.sequences.get(sequence_id)
        return None if seq is None else render(seq, "mermaid")

    return one


def _impact(
    output: Output,
    old: Side,
    new: Side,
    base: str,
    contacts: Path,
    events: Path | None,
    start: str,
    days: int,
    encoding: str | None,
) -> Impact:
    """Both sides simulated on the same contacts, events and period (`simulate`'s engine).

    Each side reads the files with its own journey.yaml (declared fields, timezone), as two
    `simulate` runs would; when the two agree on them the files are read once."""
    from datetime import timedelta

    from journeyctl.cli.input_render import print_inputs
    from journeyctl.cli.loading import read_contacts_input, read_events_input
    from journeyctl.data.instants import parse_instant
    from journeyctl.review.impact import simulate_sides

    def read(project: Project) -> tuple[list[Contact], list[Event]]:
        people, report = read_contacts_input(project, contacts, encoding)
        reports = [report]
        history: list[Event] = []
        if events is not None:
            history, report = read_events_input(project, events, encoding)
            reports.append(report)
        print_inputs(output, reports)
        return people, history

    new_inputs = read(new.project)
    same = old.project.settings == new.project.settings
    base_inputs = new_inputs if same else read(old.project)
    t0 = parse_instant(start, new.project.settings.timezone)
    impact, held = simulate_sides(
        old.project, new.project, base_inputs, new_inputs, t0, t0 + timedelta(days=days),
        label=base,
    )  # fmt: skip
    for name, n in zip((base, "the working tree"), held, strict=True):
        if n:
            output.err.print(
                f"warning: {n} enrollment(s) held at {name} by content or conditions that "
                "fail for the contact's data (`simulate` there says which)",
                markup=False,
                highlight=False,
            )
    return impact
