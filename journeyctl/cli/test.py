"""`journeyctl test`: run the sequence tests kept in the project's tests/*.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary
from journeyctl.cli.options import Format, OutOpt, ReportFormatOpt, format_for
from journeyctl.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from journeyctl.testing.cases import CaseResult


@app.command()
@boundary
def test(
    project_dir: Annotated[Path, typer.Argument(help="Project directory.")] = Path("."),
    files: Annotated[
        list[Path] | None, typer.Option("--file", help="Only these test files.")
    ] = None,
    fmt: ReportFormatOpt = None,
    out: OutOpt = None,
) -> None:
    """Run the sequence tests in tests/*.yaml: expected messages, times and outcomes.

    Failures print the expected and actual timelines side by side. Exit 1 when a test fails
    or a test file is invalid.
    """
    fmt = format_for(fmt, out, Format)
    import json

    from journeyctl.cli.loading import load_project_or_fail
    from journeyctl.cli.output import Output
    from journeyctl.cli.render import render_diagnostics
    from journeyctl.testing.cases import find_test_files, load_cases, run_all

    project = load_project_or_fail(project_dir)
    paths = list(files) if files else find_test_files(project_dir)
    if not paths:
        raise UsageError(f"{project_dir}: no tests (write them as {project_dir}/tests/*.yaml)")
    cases, diags = load_cases(project, paths)
    output = Output.from_environment()
    render_diagnostics(output, diags, "text")
    results = list(run_all(project, cases))
    failed = sum(not r.passed for r in results)
    if fmt is Format.json:
        output.emit(json.dumps(_json(results, diags), ensure_ascii=False, indent=2), out)
    else:
        bad_files = f", {len(diags)} problem(s) in test files" if diags else ""
        from journeyctl.cli.tables import fit, people_width

        # In a terminal (or under COLUMNS) the text fits its width: PASS/FAIL and problem
        # lines wrap, a failure's timeline turns into one block per row when it is too wide.
        width = people_width(output.out, out)
        text = render_results(results, width)
        total = f"{len(results) - failed} passed, {failed} failed{bad_files}"
        output.emit(f"{text}\n{total}" if width is None else fit(f"{text}\n{total}", width), out)
    raise typer.Exit(ExitCode.PROBLEMS if failed or diags else ExitCode.OK)


def render_results(results: list[CaseResult], width: int | None = None) -> str:
    lines: list[str] = []
    for r in results:
        lines.append(f"{'PASS' if r.passed else 'FAIL'} {r.label}")
        if r.passed:
            continue
        if r.rows:
            lines += ["", *_side_by_side(r, width), ""]
        lines += [f"  - {p}" for p in r.problems]
    return "\n".join(lines)


def _side_by_side(r: CaseResult, width: int | None = None) -> list[str]:
    """Expected and actual in columns; one block per row when that is wider than `width`."""
    head = ("", "contact", "step", "expected", "actual")
    table = [head] + [
        (
            "  " if row.ok else "✗ ",
            row.contact,
            f"{row.sequence}/{row.step}",
            row.expected or "—",
            row.actual or "—",
        )
        for row in r.rows
    ]
    widths = [max(len(t[i]) for t in table) for i in range(len(head))]
    lines = [
        "  " + "  ".join(c.ljust(w) for c, w in zip(t, widths, strict=True)).rstrip() for t in table
    ]
    if width is None or max(len(line) for line in lines) <= width:
        return lines
    out: list[str] = []
    for mark, contact, step, expected, actual in table[1:]:
        out += [f"  {mark}{contact}  {step}", f"      expected  {expected}",
                f"      actual    {actual}"]  # fmt: skip
    return out


def _json(results: list[CaseResult], diags: list) -> dict:  # type: ignore[type-arg]
    return {
        "ok": all(r.passed for r in results) and not diags,
        "tests": [
            {
                "name": r.label,
                "passed": r.passed,
                "timeline": [row.__dict__ for row in r.rows],
                "problems": r.problems,
            }
            for r in results
        ],
        "invalid": [str(d) for d in diags],
    }
