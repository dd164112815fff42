"""The pages in a real browser: headless Chromium (tests/browser.py) opens each file offline
(`file://`) and must show no console error, ask for nothing but the file itself, draw every
flow (Mermaid's SVG) and chart (a Chart.js chart on each canvas) with the numbers of the same
run, and leave a screenshot that is not blank."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser import pixels, visit
from tests.pages.project import cli, report_db, simulate_stock

pytestmark = pytest.mark.browser

SEQUENCES = """Array.from(document.querySelectorAll('section.sequence')).map(s => ({
  id: s.dataset.sequence,
  flow: (s.querySelector('pre.mermaid svg') || {textContent: null}).textContent,
  charts: Array.from(s.querySelectorAll('canvas')).map(c => {
    const chart = Chart.getChart(c);
    return chart ? chart.data.datasets.map(d => d.data) : null;
  }),
}))"""
OVERVIEW = "Chart.getChart(document.querySelector('canvas[data-chart=\"per-day\"]')).data.datasets.map(d => d.data)"


def has(text: str, label: str, n: int) -> bool:
    """`label n` in the text, n as the page writes it (1,234), not a prefix of a longer number."""
    return re.search(rf"{re.escape(label)} {n:,}(?![\d,])", text) is not None


def check_screenshot(png: bytes) -> None:
    width, height, px = pixels(png)
    assert (width, height) == (1280, 1600)
    assert len(set(px[::7])) > 50  # text, charts and flows: not one flat colour
    blue = sum(
        1 for p in px if abs(p[0] - 0x09) < 24 and abs(p[1] - 0x69) < 24 and abs(p[2] - 0xDA) < 24
    )
    assert blue > 1000  # the first series' bars (charts.PALETTE[0])
    dark = sum(1 for p in px if max(p) < 90)
    assert dark > 2000  # headings and numbers


def test_simulate_page_in_chromium(tmp_path: Path) -> None:
    page = tmp_path / "simulate.html"
    doc: dict[str, Any] = simulate_stock(page)  # type: ignore[assignment]
    shot = tmp_path / "simulate.png"
    seen = visit(page.as_uri(), {"sequences": SEQUENCES, "overview": OVERVIEW,
                                 "lang": "document.documentElement.lang"}, screenshot=shot)  # fmt: skip
    assert seen.errors == []
    assert seen.requests == [page.as_uri()]  # offline: every asset is inside the file
    assert seen.ready, "the page never finished drawing its flows and charts"
    assert seen.values["lang"] == "ko"  # the stock library is a kr project
    summary = doc["summary"]
    got = {s["id"]: s for s in seen.values["sequences"]}
    assert sorted(got) == sorted(summary)
    for name, s in summary.items():
        flow, charts = got[name]["flow"], got[name]["charts"]
        assert flow is not None, f"{name}: no flow drawn"
        assert has(flow, "진입", s["entered"]), (name, flow)
        for step, c in s["steps"].items():
            assert has(flow, "발송", c["sent"]), (name, step, flow)
        assert all(c is not None for c in charts), f"{name}: a canvas without a chart"
        per_day, _rates = charts
        assert sum(per_day[0]) == s["sent"]
    assert sum(sum(d) for d in seen.values["overview"]) == sum(s["sent"] for s in summary.values())
    check_screenshot(shot.read_bytes())


def test_report_page_in_chromium(tmp_path: Path) -> None:
    proj, db = report_db(tmp_path)
    page = tmp_path / "report.html"
    code, _, err = cli("report", str(proj), "--db", str(db), "--out", str(page))
    assert code == 0, err
    shot = tmp_path / "report.png"
    seen = visit(page.as_uri(), {"sequences": SEQUENCES, "text": "document.body.innerText",
                                 "lang": "document.documentElement.lang",
                                 "stories": "document.querySelectorAll('details pre').length"},
                 screenshot=shot)  # fmt: skip
    assert seen.errors == []
    assert seen.requests == [page.as_uri()]
    assert seen.ready
    assert seen.values["lang"] == "en"  # a UTC project without kr compliance
    (promo,) = seen.values["sequences"]
    flow = promo["flow"]
    # The run's numbers (tests/pages/project.py): offers split 24/16, reminders 17 + 13.
    for label, n in (("entered", 40), ("sent", 24), ("opened", 13), ("sent", 16),
                     ("opened", 7), ("sent", 30), ("goals", 10)):  # fmt: skip
        assert has(flow, label, n), (label, n, flow)
    per_day, rates = promo["charts"]
    assert sum(per_day[0]) == 70
    assert rates[0][:2] == [54.17, 43.75]  # open rates of offer-a and offer-b, in %
    text = seen.values["text"]
    assert "A/B tests" in text and "p-value 0.4561" in text and "lift +55.6%" in text
    assert "open rate 43.8% is under 50.0% — rework the subject line" in text
    assert seen.values["stories"] >= 1
    check_screenshot(shot.read_bytes())
