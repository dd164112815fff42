"""A change's impact in the terminal: the summary in words, then the per-step table (a grid
when it fits the width, one block per row when it does not: cli.tables)."""

from __future__ import annotations

import io

from rich.console import Console

from journeyctl.cli.tables import Col, print_table
from journeyctl.review.impact import Impact
from journeyctl.review.impact_render import COLUMNS, headline, rows, summary


def impact_text(impact: Impact, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, no_color=True, highlight=False)
    console.print(f"impact: {headline(impact)}", markup=False, highlight=False)
    console.print(summary(impact), markup=False, highlight=False)
    table = rows(impact)
    if table:
        console.print()
        print_table(
            console,
            [Col(name, "left" if i < 2 or i == 7 else "right") for i, name in enumerate(COLUMNS)],
            table,
            title="Messages by step",
        )
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue()
