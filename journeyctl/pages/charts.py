"""Chart.js configurations (plain data, embedded in the page as JSON)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

PALETTE = (
    "#0969da", "#1a7f37", "#bc4c00", "#8250df", "#cf222e", "#0a7b83", "#9a6700", "#bf3989",
    "#57606a", "#4d2d00",
)  # fmt: skip


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def bars(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    stacked: bool = False,
    y_title: str | None = None,
    horizontal: bool = False,
) -> dict[str, Any]:
    """A bar chart: one dataset per `series` entry, in its order, colours from PALETTE."""
    value_axis: dict[str, Any] = {"beginAtZero": True, "stacked": stacked}
    if y_title != "%":
        value_axis["ticks"] = {"precision": 0}  # counts: no 2.5 messages
    if y_title:
        value_axis["title"] = {"display": True, "text": y_title}
    category_axis = {"stacked": stacked, "ticks": {"autoSkip": True, "maxRotation": 60}}
    return {
        "type": "bar",
        "data": {
            "labels": list(labels),
            "datasets": [
                {"label": name, "data": list(values), "backgroundColor": color(i)}
                for i, (name, values) in enumerate(series.items())
            ],
        },
        "options": {
            "responsive": True,
            "maintainAspectRatio": False,
            "animation": False,
            "indexAxis": "y" if horizontal else "x",
            "plugins": {"legend": {"display": len(series) > 1}},
            "scales": {
                ("x" if horizontal else "y"): value_axis,
                ("y" if horizontal else "x"): category_axis,
            },
        },
    }
