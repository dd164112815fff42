"""Benchmark the idle cron tick (issue 4): `journeyctl run sequences --db DB --now T` when
nothing is due, on a db with >= 100k contacts and >= 100k enrollments, beside interpreter
floors measured in the same run.

The db: one real `run_once` of the stock library (a copy of `sequences/`) over the examples
tiled to --base contacts, then its rows cloned with SQL (new ids, same times) up to
--contacts, then one ended enrollment added to every contact that has none, so enrollments
reach the contact count. T lies before the earliest wake, so truly nothing is due. One full
`run` at T records the project fingerprint; then each command runs --runs times (median).

    python bench/bench_idle.py [--contacts 100000] [--base 10000] [--runs 11] [--keep DIR]

--keep DIR reuses DIR/idle.db if present (measure again without rebuilding).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
# The stock library signs unsubscribe links with ${UNSUBSCRIBE_SECRET}: `run` refuses without one.
os.environ.setdefault("UNSUBSCRIBE_SECRET", "bench-only-not-a-secret")

from bench_simulate import tiled  # noqa: E402

from journeyctl.data.contacts import read_contacts  # noqa: E402
from journeyctl.data.events import read_events  # noqa: E402
from journeyctl.data.instants import parse_instant  # noqa: E402
from journeyctl.run.once import run_once  # noqa: E402
from journeyctl.spec import load_valid_project  # noqa: E402

PY = sys.executable
BUILD_NOW = "2026-11-01T10:00:00+09:00"


def build(work: Path, n_contacts: int, n_base: int) -> tuple[Path, Path, datetime]:
    stock = work / "stock"
    shutil.copytree(
        ROOT / "sequences", stock, ignore=shutil.ignore_patterns("outbox", "__pycache__")
    )
    project = load_valid_project(stock)
    contacts = read_contacts(ROOT / "examples/contacts.csv", project.settings).items
    events = read_events(ROOT / "examples/events.csv", project.settings).items
    cs, es = tiled(n_base, contacts, events)
    db = work / "idle.db"
    now = parse_instant(BUILD_NOW, project.settings.timezone)
    t0 = time.perf_counter()
    run_once(
        project, db, now=now, clock=lambda: datetime.now().astimezone(), contacts=cs, events=es
    )
    print(f"real run_once over {n_base:,} tiled contacts: {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    clone(db, n_contacts)
    print(f"cloned to {counts(db)} in {time.perf_counter() - t0:.1f} s", flush=True)
    return stock, db, now


def clone(db: Path, n_contacts: int) -> None:
    """Copies of the real rows under new ids (`<id>~k`), then one ended enrollment for every
    contact without one: the tables the idle questions touch reach their target sizes."""
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("BEGIN")
    base = con.execute("SELECT count(*) FROM contacts").fetchone()[0]
    copies = max(0, -(-n_contacts // base) - 1)
    for k in range(1, copies + 1):
        s = f"'~{k}'"
        con.execute(
            f"INSERT INTO contacts SELECT id || {s}, email, phone, name, timezone, attrs "
            "FROM contacts WHERE instr(id, '~') = 0"
        )
        con.execute(
            f"INSERT INTO contact_state SELECT contact_id || {s}, cursor, next_due, triggers, "
            "suppressed FROM contact_state WHERE instr(contact_id, '~') = 0"
        )
        con.execute(
            f"INSERT INTO events(contact_id, event, at, props, enrolls, processed) "
            f"SELECT contact_id || {s}, event, at, props, enrolls, processed FROM events "
            "WHERE instr(contact_id, '~') = 0"
        )
        con.execute(
            f"INSERT INTO enrollments SELECT id || {s}, contact_id || {s}, sequence, version, "
            "entered_at, position, due_at, outcome, ended_at, reason, variant, waiting_since, "
            "deferred_from, deferred_by, seq, held FROM enrollments WHERE instr(id, '~') = 0"
        )
        cols = (
            "sequence, step, channel, at, status, is_marketing, reason, deferred_from, "
            "deferred_by, variant, subject, text, html, to_addr, unsubscribe_url, state, "
            "attempts, next_attempt_at, delivered_at, provider_id, error"
        )
        con.execute(
            f"INSERT INTO ledger(key, contact_id, enrollment_id, {cols}) "
            f"SELECT key || {s}, contact_id || {s}, enrollment_id || {s}, {cols} FROM ledger "
            "WHERE instr(key, '~') = 0"
        )
    sample = con.execute(
        "SELECT sequence, version, entered_at FROM enrollments LIMIT 1"
    ).fetchone() or ("welcome", "bench", 0)
    con.execute(
        "INSERT INTO enrollments(id, contact_id, sequence, version, entered_at, position, "
        "due_at, outcome, ended_at, reason, seq) "
        "SELECT 'bench:' || c.id, c.id, ?, ?, ?, NULL, NULL, 'completed', ?, NULL, 99 "
        "FROM contacts c WHERE NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.contact_id = c.id)",
        (*sample, sample[2]),
    )
    # History: one delivered message for every contact without one (`sent` rows, outside
    # the partial indexes the idle questions use, as in a ledger that has grown).
    cols = (
        "sequence, step, channel, at, status, is_marketing, reason, deferred_from, deferred_by, "
        "variant, subject, text, html, to_addr, unsubscribe_url, state, attempts, "
        "next_attempt_at, delivered_at, provider_id, error"
    )
    sent = con.execute(f"SELECT {cols} FROM ledger WHERE state = 'sent' LIMIT 1").fetchone()
    if sent is not None:
        con.execute(
            f"INSERT INTO ledger(key, contact_id, enrollment_id, {cols}) "
            f"SELECT 'bench:' || c.id, c.id, 'bench:' || c.id, {','.join('?' * len(sent))} "
            "FROM contacts c WHERE NOT EXISTS (SELECT 1 FROM ledger l WHERE l.contact_id = c.id)",
            sent,
        )
    con.execute("COMMIT")
    con.execute("ANALYZE")
    con.close()


def counts(db: Path) -> str:
    con = sqlite3.connect(db)
    n = {
        t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("contacts", "enrollments", "events", "ledger", "runs")
    }
    con.close()
    return ", ".join(f"{k} {v:,}" for k, v in n.items())


def next_wake(db: Path) -> int | None:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT min(next_due) FROM contact_state").fetchone()[0]
    finally:
        con.close()


def median_wall(argv: list[str], runs: int, env: dict[str, str], cwd: Path) -> float:
    for _ in range(2):  # page cache, .pyc files
        subprocess.run(argv, check=True, capture_output=True, env=env, cwd=cwd)
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env, cwd=cwd)
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=100_000)
    ap.add_argument("--base", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument(
        "--keep", type=Path, help="build the db in this directory and keep it (reused if there)"
    )
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-idle-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.keep and (work / "idle.db").exists():  # measure again on a kept db
            stock, db = work / "stock", work / "idle.db"
            built = datetime.fromisoformat(BUILD_NOW)
            print(f"reusing {db}: {counts(db)}")
        else:
            stock, db, built = build(work, args.contacts, args.base)
        wake = next_wake(db)
        t = built + timedelta(seconds=30)
        if wake is not None:
            wake_at = datetime.fromtimestamp(wake / 1e6, UTC)
            assert wake_at > built, "something is due at the build instant"
            t = min(t, built + (wake_at - built) / 2)
        tt = t.isoformat()
        print(f"idle instant T = {tt} (earliest wake {wake})", flush=True)

        env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEYCTL_")}
        full_env = {**env, "JOURNEYCTL_NO_FASTPATH": "1"}
        script = Path(PY).parent / "journeyctl"
        run_args = ["run", str(stock), "--db", str(db), "--now", tt]
        first = subprocess.run(
            [PY, "-m", "journeyctl", *run_args],
            capture_output=True,
            text=True,
            env={**env, "JOURNEYCTL_TRACE_FASTPATH": "1"},
            cwd=work,
        )
        print(first.stdout.strip(), "|", first.stderr.strip())
        assert first.returncode == 0 and " 0 contact(s) advanced" in first.stdout, first
        check = subprocess.run(
            [PY, "-m", "journeyctl", *run_args],
            capture_output=True,
            text=True,
            env={**env, "JOURNEYCTL_TRACE_FASTPATH": "1"},
            cwd=work,
        )
        assert check.stderr.strip() == "fastpath: idle", check.stderr
        assert check.stdout == first.stdout

        rows = []
        r = args.runs

        def row(label: str, argv: list[str], e: dict[str, str], what: str, n: int = r) -> float:
            wall = median_wall(argv, n, e, work)
            rows.append((label, wall, what))
            print(f"{label}: {wall * 1000:.1f} ms", flush=True)
            return wall

        # This machine sets PYTHONDONTWRITEBYTECODE=1, so every import compiles its source.
        # Cron's environment normally does not (and pip compiles installed wheels): measure
        # both, the cached case with a throwaway PYTHONPYCACHEPREFIX.
        cached = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        modes = [("no .pyc", env), (".pyc cached", cached)]
        if "PYTHONDONTWRITEBYTECODE" not in env:
            modes = [(".pyc as found", env)]
        bare = {}
        goal = "≤ 120 ms (aim 60)"
        for mode, e in modes:
            bare[mode] = row(f"`python -c pass` ({mode})", [PY, "-c", "pass"], e, "floor")
            row(f"`python -c 'import sqlite3, hashlib'` ({mode})",
                [PY, "-c", "import sqlite3, hashlib"], e, "floor")  # fmt: skip
            row(f"idle `python -m journeyctl run` ({mode})",
                [PY, "-m", "journeyctl", *run_args], e, goal)  # fmt: skip
            if script.exists():
                row(f"idle `journeyctl run` console script ({mode})",
                    [str(script), *run_args], e, goal)  # fmt: skip
        # Without this machine's site-packages .pth files (one imports certifi, ~25 ms at
        # every start): `-S` with PYTHONPATH, the fast path needs nothing installed.
        bare_s = {**modes[-1][1], "PYTHONPATH": str(ROOT)}
        bare["-S"] = row("`python -S -c pass` (-S)", [PY, "-S", "-c", "pass"], bare_s, "floor")
        row("idle `python -S -m journeyctl run` (-S)",
            [PY, "-S", "-m", "journeyctl", *run_args], bare_s, goal)  # fmt: skip
        row("idle `journeyctl run`, fast path disabled (full CLI, no .pyc)",
            [PY, "-m", "journeyctl", *run_args], full_env, "before", max(3, r // 3))  # fmt: skip
        print(f"\ndb: {counts(db)}\n")
        print("| command | median wall | × `python -c pass` (same .pyc mode) | goal |")
        print("|---|---:|---:|---|")
        for label, wall, what in rows:
            floor = next((b for m, b in bare.items() if f"({m})" in label), bare[modes[0][0]])
            print(f"| {label} | {wall * 1000:.1f} ms | {wall / floor:.2f}× | {what} |")

        imp = subprocess.run(
            [PY, "-X", "importtime", "-m", "journeyctl", *run_args],
            capture_output=True,
            text=True,
            env=modes[-1][1],
            cwd=work,
        ).stderr.splitlines()
        # importtime prints a module after its imports: what follows `site` is ours.
        after_site = [i for i, line in enumerate(imp) if line.rstrip().endswith("| site")]
        ours = imp[after_site[-1] + 1 :] if after_site else imp
        site = imp[after_site[-1]] if after_site else "(no site line)"
        print(f"\n`python -X importtime -m journeyctl run ...` (fast path, {modes[-1][0]}):")
        print("```")
        print(site.replace("import time:", "before main:"))
        for line in ours:
            cells = line.split("|")
            if len(cells) == 3 and cells[1].strip().isdigit():
                top_level = not cells[2].startswith("   ")
                if top_level or int(cells[1]) >= 150:
                    print(line)
        print("```")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
