"""Renderings of a simulation: a summary a marketer reads at a glance, and CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from journeyctl.cli.output import Output
from journeyctl.reporting.csvsafe import cell
from journeyctl.reporting.timeline import MESSAGE_FIELDS


def render_csv(doc: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(MESSAGE_FIELDS)
    for m in doc["messages"]:
        w.writerow([cell(m[f]) for f in MESSAGE_FIELDS])
    return buf.getvalue()


def _reasons(d: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(d.items(), key=lambda kv: -kv[1])) or "-"


def render_table(output: Output, doc: dict[str, Any], n_contacts: int, path: Path | None) -> None:
    console = output.out
    if path is not None:
        console = Console(file=io.StringIO(), width=120, no_color=True)
    summary = doc["summary"]
    total_sent = sum(s["sent"] for s in summary.values())
    console.print(
        f"Simulated {n_contacts} contacts from {doc['start']} to {doc['end']}: "
        f"{total_sent} messages sent, {len(doc['enrollments'])} enrollments."
    )
    funnel = Table(title="Sequences", title_justify="left")
    for col in ("sequence", "entered", "sent", "goals", "completed", "exited", "active",
                "deferred", "skipped"):  # fmt: skip
        funnel.add_column(
            col, justify="left" if col in ("sequence", "exited", "deferred", "skipped") else "right"
        )
    for name, s in summary.items():
        funnel.add_row(
            f"{name} (paused)" if s.get("paused") else name, str(s["entered"]), str(s["sent"]), str(s["goals"]), str(s["completed"]),
            _reasons(s["exited"]), str(s["active"]), _reasons(s["deferred"]), _reasons(s["skipped"]),
        )  # fmt: skip
    console.print(funnel)
    steps = Table(title="Steps", title_justify="left")
    for col in ("sequence", "step", "sent", "deferred", "skipped"):
        steps.add_column(col, justify="left" if col in ("sequence", "step") else "right")
    for name, s in summary.items():
        for step, c in s["steps"].items():
            steps.add_row(name, step, str(c["sent"]), str(c["deferred"]), str(c["skipped"]))
    console.print(steps)
    per_day = doc["per_day"]
    if per_day:
        console.print("Messages per day")
        peak = max(sum(v.values()) for v in per_day.values()) or 1
        for day, by_seq in per_day.items():
            n = sum(by_seq.values())
            bar = "█" * max(1, round(40 * n / peak))
            console.print(f"  {day}  {bar} {n}", markup=False, highlight=False)
    if path is not None:
        assert isinstance(console.file, io.StringIO)
        output.emit(console.file.getvalue(), path)
