"""Renderings of a simulation: a summary a marketer reads at a glance, and CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from itertools import islice
from pathlib import Path
from typing import Any

from rich.console import Console

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


def csv_header() -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(MESSAGE_FIELDS)
    return buf.getvalue()


# Rows rendered by reporting.sim_text are written in groups of this many: one write call
# per group, not per row.
_GROUP = 2000


def write_rows(
    write: Callable[[bytes], object],
    rows: Iterable[tuple[Any, ...]],
    sep: bytes,
    opening: bytes = b"",
) -> int:
    """The rows' texts (each row's last item, UTF-8) joined by `sep`, `opening` before the
    first; the number of rows written (nothing at all is written for none)."""
    n = 0
    it = iter(rows)
    while group := [row[-1] for row in islice(it, _GROUP)]:
        write((opening if n == 0 else sep) + sep.join(group))
        n += len(group)
    return n


def write_csv(write: Callable[[bytes], object], rows: Iterable[tuple[Any, ...]]) -> None:
    """The messages as CSV (render_csv's text), from sorted rendered rows."""
    write(csv_header().encode())
    write_rows(write, rows, b"")


def _nested(value: Any) -> str:
    """A value as `json.dumps(doc, indent=2)` writes it under a key of the document."""
    return json.dumps(value, ensure_ascii=False, indent=2).replace("\n", "\n  ")


def write_json(
    write: Callable[[bytes], object],
    head: dict[str, Any],
    messages: Iterable[tuple[Any, ...]],
    enrollments: Iterable[tuple[Any, ...]],
    tail: dict[str, Any],
) -> None:
    """The SPEC §4 document, byte for byte what `json.dumps(doc, ensure_ascii=False,
    indent=2)` gives (then a newline) in UTF-8, written as its lists are merged: `head`
    (start, end), the `messages` and `enrollments` lists from their sorted rendered rows,
    then `tail` (summary, per_day, …)."""
    text = "{"
    first = True
    for key, value in head.items():
        text += ("\n  " if first else ",\n  ") + json.dumps(key) + ": " + _nested(value)
        first = False
    for key, rows in (("messages", messages), ("enrollments", enrollments)):
        write((text + ("\n  " if first else ",\n  ") + json.dumps(key) + ": ").encode())
        first = False
        text = "\n  ]" if write_rows(write, rows, b",\n", b"[\n") else "[]"
    for key, value in tail.items():
        text += ",\n  " + json.dumps(key) + ": " + _nested(value)
    write((text + "\n}\n").encode())


def _reasons(d: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(d.items(), key=lambda kv: -kv[1])) or "-"


def render_table(
    output: Output, doc: dict[str, Any], n_contacts: int, path: Path | None, enrolled: int
) -> None:
    """`doc`: start, end, summary and per_day of the SPEC §4 document; `enrolled`: how many
    enrollments it lists."""
    console = output.out
    if path is not None:
        console = Console(file=io.StringIO(), width=120, no_color=True)
    summary = doc["summary"]
    total_sent = sum(s["sent"] for s in summary.values())
    from journeyctl.cli.tables import Col, print_fitted, print_table
    from journeyctl.run.summary import minute_text

    print_fitted(
        console,
        f"Simulated {n_contacts} contacts from {minute_text(doc['start'])} to "
        f"{minute_text(doc['end'])}:\n{total_sent} messages sent, "
        f"{enrolled} enrollments.",
    )

    print_table(
        console,
        [Col("sequence"), Col("entered", "right"), Col("sent", "right"), Col("goals", "right"),
         Col("completed", "right"), Col("exited", wrap=True), Col("active", "right"),
         Col("deferred", wrap=True), Col("skipped", wrap=True)],
        [
            [f"{name} (paused)" if s.get("paused") else name, str(s["entered"]), str(s["sent"]), str(s["goals"]), str(s["completed"]),
             _reasons(s["exited"]), str(s["active"]), _reasons(s["deferred"]),
             _reasons(s["skipped"])]
            for name, s in summary.items()
        ],
        title="Sequences",
    )  # fmt: skip
    print_table(
        console,
        [Col("sequence"), Col("step"), Col("sent", "right"), Col("deferred", "right"),
         Col("skipped", "right")],
        [
            [name, step, str(c["sent"]), str(c["deferred"]), str(c["skipped"])]
            for name, s in summary.items()
            for step, c in s["steps"].items()
        ],
        title="Steps",
    )  # fmt: skip
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
