"""The HTML pages' cost, measured as the user's commands and in a real browser.

    python bench/bench_pages.py [--contacts 100000] [--ledger 1000000] [--reps 3]

- `simulate` of the stock sequences over examples/ tiled to N contacts (30 days): the same
  command with `--format text`, `--format json --out` and `--format html --out`, as processes,
  repetitions alternating between the formats; wall time and peak RSS, medians.
- `report` over a database whose ledger holds M rows: the stock library's month simulated over
  examples/ and written into a SQLite file copied until M ledger rows (contacts, keys and
  enrollments renamed per copy), with opens on 30% and clicks on 5% of the emails sent; the
  same three formats.
- Each page opened in headless Chromium (tests/browser.py): the load event's time and the
  time until the flows and charts are drawn (`data-ready-ms`), median of the repetitions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_commands import run_measured, tile  # noqa: E402

EXE = str(ROOT / ".venv" / "bin" / "journeyctl")
ENV = {**os.environ, "UNSUBSCRIBE_SECRET": "bench-only", "NO_COLOR": "1"}


def ledger_db(rows: int, path: Path) -> int:
    """A database with `rows` ledger rows; returns the count written."""
    from journeyctl.cli.loading import load_contacts, load_events
    from journeyctl.data.instants import parse_instant
    from journeyctl.engine.make import make_engine
    from journeyctl.engine.model import Status
    from journeyctl.simulate.replay import simulate
    from journeyctl.spec.loader import load_project
    from journeyctl.store.micros import to_micros
    from journeyctl.store.sqlite import SqliteStore
    from tests.pages.project import EXAMPLES  # the same inputs as the pages' tests

    project = load_project(ROOT / "sequences")
    people = load_contacts(project, EXAMPLES / "contacts.csv", None)
    history = load_events(project, EXAMPLES / "events.csv", None)
    t0 = parse_instant("2026-11-01", project.settings.timezone)
    sim = simulate(project, people, history, t0, t0 + timedelta(days=30),
                   engine=make_engine(project, subjects_only=True))  # fmt: skip
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    written, i = 0, 0
    hour = timedelta(hours=1)
    while written < rows:
        ledger, events = [], []
        for n, m in enumerate(sim.messages):
            if written + len(ledger) >= rows:
                break
            cid, at = f"{m.contact_id}-{i}", to_micros(m.at)
            sent = m.status is Status.SENT
            ledger.append((f"{m.key}-{i}", cid, m.sequence, m.step, m.channel, at, str(m.status),
                           f"{m.enrollment_id}-{i}", int(m.is_marketing), m.reason, m.variant,
                           m.subject, "sent" if sent else "skipped"))  # fmt: skip
            if sent and m.subject is not None and n % 10 < 3:
                events.append((cid, "opened", to_micros(m.at + hour)))
                if n % 20 == 0:
                    events.append((cid, "clicked", to_micros(m.at + 2 * hour)))
        conn.executemany(
            "INSERT INTO ledger (key, contact_id, sequence, step, channel, at, status, "
            "enrollment_id, is_marketing, reason, variant, subject, state) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            ledger,
        )
        conn.executemany(
            "INSERT OR IGNORE INTO events (contact_id, event, at, props, enrolls, processed) "
            "VALUES (?,?,?,'[]',0,1)",
            events,
        )
        conn.executemany(
            "INSERT INTO enrollments (id, contact_id, sequence, version, entered_at, outcome, "
            "ended_at, reason, variant) VALUES (?,?,?,?,?,?,?,?,?)",
            [(f"{e.id}-{i}", f"{e.contact_id}-{i}", e.sequence, e.version,
              to_micros(e.entered_at), str(e.outcome),
              None if e.ended_at is None else to_micros(e.ended_at), e.reason, e.variant)
             for e in sim.enrollments],
        )  # fmt: skip
        if i == 0:  # the first copy's contacts, so `explain --db` tells the sampled stories
            ids = sorted({c.id for c in people})
            conn.executemany("INSERT INTO contacts (id, attrs) VALUES (?, '{}')",
                             [(f"{c}-0",) for c in ids])  # fmt: skip
            conn.executemany("INSERT INTO contact_state (contact_id, cursor) VALUES (?, 0)",
                             [(f"{c}-0",) for c in ids])  # fmt: skip
        conn.commit()
        written += len(ledger)
        i += 1
    conn.close()
    return written


def page_times(path: Path, reps: int) -> tuple[float, float, int]:
    from tests.browser import visit

    loads, readies = [], []
    for _ in range(reps):
        seen = visit(path.as_uri(), {"ready_ms": "document.documentElement.dataset.readyMs"})
        assert seen.ready and not seen.errors, seen.errors
        loads.append(seen.load_ms)
        readies.append(float(seen.values["ready_ms"]))
    return statistics.median(loads), statistics.median(readies), path.stat().st_size


def formats(base: list[str], work: Path, name: str, reps: int) -> dict[str, tuple[float, float]]:
    """Median wall seconds and peak MB per format, repetitions alternating."""
    runs: dict[str, list[tuple[float, float]]] = {"text": [], "json": [], "html": []}
    for _ in range(reps):
        for fmt in runs:
            extra = ["--format", fmt] + (
                [] if fmt == "text" else ["--out", str(work / f"{name}.{fmt}")]
            )
            wall, mb, _ = run_measured([*base, *extra], ENV, work)
            runs[fmt].append((wall, mb))
    return {
        f: (statistics.median(w for w, _ in r), statistics.median(m for _, m in r))
        for f, r in runs.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=100_000)
    ap.add_argument("--ledger", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    out: dict[str, object] = {"load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        work = Path(tmp)
        project = work / "project"
        shutil.copytree(ROOT / "sequences", project, ignore=shutil.ignore_patterns("outbox"))
        contacts, events = tile(args.contacts, work)
        sim = [EXE, "simulate", str(project), "--contacts", str(contacts), "--events",
               str(events), "--start", "2026-11-01", "--days", "30"]  # fmt: skip
        out["simulate"] = formats(sim, work, "simulate", args.reps)
        print("simulate", out["simulate"], file=sys.stderr, flush=True)
        out["simulate_page"] = page_times(work / "simulate.html", args.reps)
        print("simulate_page", out["simulate_page"], file=sys.stderr, flush=True)
        db = work / "ledger.db"
        out["ledger_rows"] = ledger_db(args.ledger, db)
        print("ledger_rows", out["ledger_rows"], file=sys.stderr, flush=True)
        report = [EXE, "report", str(project), "--db", str(db)]
        out["report"] = formats(report, work, "report", args.reps)
        print("report", out["report"], file=sys.stderr, flush=True)
        out["report_page"] = page_times(work / "report.html", args.reps)
    out["load_after"] = os.getloadavg()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
