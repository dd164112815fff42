"""`journeyctl report`: which step works and what to tune, from the database."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import DbOpt, ExcelOpt, OutOpt, format_option

if TYPE_CHECKING:
    from journeyctl.cli.output import Output
    from journeyctl.reporting.report import PageCounts, Report
    from journeyctl.spec.project import Project


class ReportFormat(StrEnum):
    text = "text"
    json = "json"
    csv = "csv"
    html = "html"


CSV_COLUMNS = (
    "sequence", "step", "variant", "sent", "delivered", "opened", "clicked", "goals",
    "unsubscribed", "bounced", "open_rate", "click_rate", "goal_rate", "unsubscribe_rate",
)  # fmt: skip


@app.command()
@boundary
def report(
    project_dir: Annotated[
        Path, typer.Argument(help="Project directory (thresholds from journey.yaml `report:`).")
    ] = Path("."),
    db: DbOpt = "journey.db",
    since: Annotated[
        str | None, typer.Option("--since", help="Only messages sent at or after this instant.")
    ] = None,
    fmt: Annotated[
        ReportFormat | None,
        format_option(
            ReportFormat,
            "text, json, csv or html (a page with flows, charts, A/B tests, advice and stories; "
            "needs --out). Default: text, or as --out's name ends (.csv, .json, .html).",
        ),
    ] = None,
    out: OutOpt = None,
    excel: ExcelOpt = None,
) -> None:
    """Per sequence, step and split arm: sent, delivered, opened, clicked, goals, unsubscribes
    with rates; A/B significance; tuning advice (thresholds in journey.yaml `report:`)."""
    from journeyctl.cli.db_render import open_existing
    from journeyctl.cli.options import csv_bom, format_for
    from journeyctl.cli.output import Output
    from journeyctl.data.instants import parse_instant
    from journeyctl.errors import ProjectError
    from journeyctl.reporting.db_rows import report_counts
    from journeyctl.spec.loader import load_project

    fmt = format_for(fmt, out, ReportFormat)
    if fmt is ReportFormat.html and out is None:
        from journeyctl.errors import UsageError

        raise UsageError("--format html writes a page: give --out FILE.html")
    project = load_project(project_dir) if project_dir.is_dir() else None
    if project is not None and project.settings_source is not None:
        bad = [d for d in project.settings_source.diagnostics if d.is_error]
        if bad:
            raise ProjectError(bad, "journey.yaml has errors; run `journeyctl validate`")
    settings = project.settings if project is not None else None
    store = open_existing(db)
    try:
        tz = (settings.timezone if settings else None) or store.get_meta("timezone") or "UTC"
        t0 = parse_instant(since, tz, option="--since") if since else None
        day_of = None
        if fmt is ReportFormat.html:  # the page's messages per local day
            from zoneinfo import ZoneInfo

            from journeyctl.pages.days import LocalDays

            day_of = LocalDays(ZoneInfo(tz))
        # Read a window of contacts at a time, only the numbers kept (reporting.db_rows).
        counts = report_counts(store.conn, t0, day_of)
    finally:
        store.close()
    from journeyctl.spec.models import ReportThresholds

    thresholds = settings.report if settings else ReportThresholds()
    order = goals = None
    if project is not None and project.sequences:
        order = {k: list(s.flow.nodes) for k, s in project.sequences.items()}
        goals = {k for k, s in project.sequences.items() if s.model.goal is not None}
    result = counts.report(thresholds, step_order=order, goal_sequences=goals)
    output = Output.from_environment()
    if fmt is ReportFormat.html:
        output.emit(html_page(result, counts.page_counts(), project, tz, db), out)
    elif fmt is ReportFormat.json:
        import json

        output.emit(json.dumps(result.as_dict(), ensure_ascii=False, indent=2), out)
    elif fmt is ReportFormat.csv:
        output.emit(to_csv(result), out, bom=csv_bom(excel, out))
    else:
        with output.writing(out) as o:
            render_table(o, result)


def html_page(
    result: Report,
    counts: PageCounts,
    project: Project | None,
    tz: str,
    db: str | Path,
) -> str:
    """The report's page, with the stories (`explain --db`) of a few contacts."""
    from journeyctl.errors import UsageError
    from journeyctl.pages.report_page import report_page
    from journeyctl.reporting.story import story_text

    stories = []
    if project is not None:
        from journeyctl.cli.explain_db import explain_from_db
        from journeyctl.store.open import open_store

        store = open_store(db)  # opened once for all the stories
        try:
            for cid in counts.story_contacts:
                try:
                    doc = explain_from_db(project, db, cid, store)
                except UsageError:  # a ledger row whose contact is gone: no story to tell
                    continue
                stories.append({"contact_id": cid, "text": story_text(doc)})
        finally:
            store.close()
    return report_page(result, counts, project, tz, stories=stories)


def to_csv(result: Report) -> str:
    import csv
    import io

    from journeyctl.reporting.csvsafe import cell

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for s in result.steps:
        d = s.as_dict()
        w.writerow([cell(d[c]) for c in CSV_COLUMNS])
    return buf.getvalue()


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def render_table(out: Output, result: Report) -> None:
    from journeyctl.cli.tables import Col, print_fitted, print_table

    if not result.steps:
        out.out.print("no messages sent yet" + (" since then" if result.since else ""))
        return
    print_table(
        out.out,
        [Col("sequence"), Col("step"), Col("arm"), Col("sent", "right"),
         Col("delivered", "right"), Col("opened", "right"), Col("clicked", "right"),
         Col("goals", "right"), Col("unsubscribed", "right")],
        [
            [s.sequence, s.step, s.variant or "", str(s.sent), str(s.delivered),
             f"{s.opened} ({_pct(s.open_rate)})" if s.is_email else "—",
             f"{s.clicked} ({_pct(s.click_rate)})", f"{s.goals} ({_pct(s.goal_rate)})",
             f"{s.unsubscribed} ({_pct(s.unsubscribe_rate)})"]
            for s in result.steps
        ],
        title="Steps",
    )  # fmt: skip
    for c in result.comparisons:
        arms = ", ".join(f"{a.name} {a.successes}/{a.n} ({_pct(a.rate)})" for a in c.arms)
        lift = f", lift {c.lift * 100:+.1f}%" if c.lift is not None else ""
        print_fitted(out.out, f"A/B {c.sequence} ({c.metric}): {arms}{lift} — {c.note}")
    for a in result.advice:
        print_fitted(out.out, f"advice: {a.message}")
    if result.unattributed:
        out.out.print(f"{result.unattributed} response event(s) had no message before them")
