"""Tables people read in a terminal, a pipe (80 columns) or a file: never a name cut to `seque…`.

A table is printed as a grid when its columns fit the width: names, ids, numbers and times in
full on one line, free text (subjects, errors, reasons) wrapped within its column. When they
do not fit, each row is printed as a block of `column  value` lines instead (a vertical
layout, as `psql \\x` does), which fits any width. Widths are display columns (rich's
cell_len): Hangul counts two.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

# The narrowest a wrapped column gets before the table turns vertical.
WRAP_MIN = 16


@dataclass(frozen=True)
class Col:
    name: str
    justify: str = "left"  # "left" | "right"
    wrap: bool = False  # free text that may wrap onto several lines (subjects, errors)


def _width(text: str) -> int:
    return max((cell_len(line) for line in text.split("\n")), default=0)


def needed_width(columns: Sequence[Col], rows: Sequence[Sequence[str]]) -> int:
    """The width the grid needs: every unwrapped column in full, wrapped ones at WRAP_MIN (or
    their content, if narrower), plus rich's borders and padding (3 per column, 1 more)."""
    total = 3 * len(columns) + 1
    for i, col in enumerate(columns):
        w = max([cell_len(col.name), *(_width(r[i]) for r in rows)])
        total += min(w, WRAP_MIN) if col.wrap else w
    return total


def print_table(
    console: Console,
    columns: Sequence[Col],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
) -> None:
    if needed_width(columns, rows) <= console.width:
        table = Table(title=title, title_justify="left")
        for col in columns:
            table.add_column(
                col.name,
                justify="right" if col.justify == "right" else "left",
                no_wrap=not col.wrap,
                overflow="fold",
                min_width=None if not col.wrap else min(WRAP_MIN, max(cell_len(col.name), 1)),
            )
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    print_vertical(console, columns, rows, title=title)


def print_vertical(
    console: Console,
    columns: Sequence[Col],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
) -> None:
    """Each row as a block of `column  value` lines, a blank line between rows."""
    pad = max(cell_len(c.name) for c in columns)
    lines: list[str] = wrap(title, console.width, 2) if title else []
    room = console.width - pad - 4  # what a value has beside its name
    for n, row in enumerate(rows):
        if n:
            lines.append("")
        for col, value in zip(columns, row, strict=True):
            name = col.name + " " * (pad - cell_len(col.name))
            parts = [p for line in (value.split("\n") if value else [""]) for p in wrap(line, room)]
            first, *more = parts
            lines.append(f"  {name}  {first}".rstrip())
            lines += [f"  {' ' * pad}  {line}".rstrip() for line in more]
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def wrap(text: str, width: int, indent: int = 0) -> list[str]:
    """`text` (one line) cut at spaces into lines of at most `width` display cells (Hangul
    counts two), each after the first starting with `indent` spaces; a word longer than a
    line is cut between characters. Never shortened: every character is kept."""
    if cell_len(text) <= width or width - indent < 8:
        return [text]
    lead = len(text) - len(text.lstrip(" "))
    first, *words = text[lead:].split(" ")
    out: list[str] = []
    line = " " * lead + first
    for word in words:
        candidate = f"{line} {word}"
        if cell_len(candidate) <= width:
            line = candidate
            continue
        out += _fold(line, width, indent)
        line = " " * indent + word
    out += _fold(line, width, indent)
    return [x.rstrip() for x in out]


def _fold(line: str, width: int, indent: int) -> list[str]:
    """A line whose one word is wider than `width`, cut between characters."""
    out = []
    while cell_len(line) > width:
        cut = _fits(line, width)
        out.append(line[:cut])
        line = " " * indent + line[cut:]
    return [*out, line]


def _fits(text: str, width: int) -> int:
    """How many characters of `text` fit in `width` cells."""
    used = 0
    for i, ch in enumerate(text):
        used += cell_len(ch)
        if used > width:
            return max(i, 1)
    return len(text)


def fit(text: str, width: int) -> str:
    """Each line of `text` wrapped to `width` with a hanging indent (its own indent plus two):
    prose and timelines read in a terminal whatever its width."""
    out: list[str] = []
    for line in text.split("\n"):
        indent = len(line) - len(line.lstrip(" "))
        out += wrap(line, width, indent + 2)
    return "\n".join(out)


def print_fitted(console: Console, text: str) -> None:
    """A line (or several) of prose printed wrapped to the console's width."""
    for line in fit(text, console.width).split("\n"):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def minute(iso: str | None, project_tz: str | None = None) -> str:
    """An ISO 8601 time as a table shows it: to the minute, `2026-11-02 08:00`, with the
    offset added only when it is not the project timezone's at that instant (a contact
    elsewhere). JSON keeps the full precision."""
    if not iso:
        return ""
    try:
        t = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    text = t.strftime("%Y-%m-%d %H:%M")
    if t.tzinfo is None or project_tz is None:
        return text
    try:
        same = t.utcoffset() == t.astimezone(ZoneInfo(project_tz)).utcoffset()
    except (KeyError, ValueError):
        same = False
    return text if same else f"{text} {t.strftime('%z')[:3]}:{t.strftime('%z')[3:]}"


def people_width(console: Console, path: Path | None) -> int | None:
    """The width prose for people is wrapped to: the terminal's, or COLUMNS when it is set;
    None in a pipe or a file (--out), where each line stays one grep-able line."""
    if path is not None or not (console.is_terminal or os.environ.get("COLUMNS", "").isdigit()):
        return None
    return console.width


def fit_for_people(text: str, console: Console, path: Path | None) -> str:
    """Prose for people (`diff`, `plan`, `explain` as text) wrapped to `people_width`."""
    width = people_width(console, path)
    return text if width is None else fit(text, width)
