"""Golden timeline: the whole stock library over examples/ for November 2026.

Checked by hand once (quiet hours, caps, waits, wait_for outcomes, win-back splits; see
`journeyctl explain`), then frozen. A change in the engine or the stock sequences shows up here
as a reviewable diff. Regenerate with: JOURNEYCTL_UPDATE_GOLDENS=1 pytest tests/cli/test_stock_timeline.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from journeyctl.cli import _register, app

_register()
ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests/cases/simulate/stock-november.txt"


def timeline() -> str:
    r = CliRunner().invoke(app, [
        "simulate", str(ROOT / "sequences"), "--contacts", str(ROOT / "examples/contacts.csv"),
        "--events", str(ROOT / "examples/events.csv"), "--start", "2026-11-01", "--days", "30",
        "--format", "json",
    ])  # fmt: skip
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    lines = [
        f"{m['at']} {m['contact_id']} {m['sequence']}/{m['step']} {m['channel']} {m['status']}"
        + (f" reason={m['reason']}" if m["reason"] else "")
        + (f" deferred_by={m['deferred_by']}" if m["deferred_by"] else "")
        + (f" variant={m['variant']}" if m["variant"] else "")
        for m in doc["messages"]
    ]
    lines += [
        f"enrollment {e['contact_id']} {e['sequence']} {e['entered_at']} -> {e['outcome']}"
        + (f" ({e['reason']})" if e["reason"] else "")
        for e in doc["enrollments"]
    ]
    return "\n".join(lines) + "\n"


def test_stock_library_timeline_is_unchanged() -> None:
    actual = timeline()
    if os.environ.get("JOURNEYCTL_UPDATE_GOLDENS") == "1":
        GOLDEN.write_text(actual, encoding="utf-8")
    assert actual == GOLDEN.read_text(encoding="utf-8")
    # every stock sequence sends something in the month
    sent = {line.split()[2].split("/")[0] for line in actual.splitlines() if " sent" in line}
    stock = {p.stem for p in (ROOT / "sequences").glob("*.yaml") if p.name != "journey.yaml"}
    assert sent == stock
