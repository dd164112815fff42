"""Benchmark `journeyctl run` (issue 4, Performance): idle tick, tick work per message, flat cost.

Each figure is printed beside its floor measured in the same run:

1. idle tick: `python -m journeyctl run PROJECT --db DB --now T` as a subprocess (median of 11)
   on (a) a one-send-project db of 100k contacts/enrollments/ledger rows (10k real, cloned) and
   (b) the stock library on tiled examples (one run_once), at a T before the next wake, vs `python -c pass` and bench-limits/b9_idle_tick.py; plus the top `-X importtime`.
2. tick work per message: N contacts with one `ping` event at T-1m each, a project with one
   event-triggered one-send sequence (file outbox); one run_once at T, timed. Vs APScheduler
   (bench-limits/b7 with --aps-n jobs, default 5k: its add_job commits one by one and takes
   minutes at 20k; if sqlalchemy is installed) and raw sqlite executemany of N rows.
3. flat cost: (2) again after the db holds 10x N of history (one real tick of N messages,
   then its rows cloned with new ids), per-message ratio to (2).

    python bench/bench_tick.py [--idle-contacts 100000] [--sizes 20000 100000]
        [--limits /path/to/bench-limits] [--profile] [--skip-idle] [--skip-aps]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_simulate import tiled  # noqa: E402

from journeyctl.data.contacts import read_contacts  # noqa: E402
from journeyctl.data.events import read_events  # noqa: E402
from journeyctl.engine.model import Contact, Event  # noqa: E402
from journeyctl.executor import run_once  # noqa: E402
from journeyctl.instants import parse_instant  # noqa: E402
from journeyctl.simulate import make_engine  # noqa: E402
from journeyctl.spec import load_valid_project  # noqa: E402
from journeyctl.store.sqlite import SqliteStore  # noqa: E402

PY = sys.executable
ONE_SEND_JOURNEY = """\
timezone: Asia/Seoul
channels:
  email: {type: file, path: outbox/, medium: email}
"""
ONE_SEND_SEQUENCE = """\
sequence: ping
description: one transactional mail per ping event (benchmark)
trigger: {event: ping}
reentry: always
ad: false
transactional: true
steps:
  - send: pong
    channel: email
    subject: "[Haru Market] {{ contact.name }}, pong"
    template: ping/pong.html.j2
"""
ONE_SEND_TEMPLATE = "<p>{{ contact.name }}님, 안녕하세요. Your ping was received.</p>\n"


def median_subprocess(argv: list[str], runs: int, cwd: Path | None = None) -> float:
    for _ in range(2):  # warm the page cache and .pyc files
        subprocess.run(argv, check=True, capture_output=True, cwd=cwd)
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, cwd=cwd)
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def b_json(script: Path, args: list[str], data: Path, timeout: int) -> list[dict]:
    """Run one bench-limits script; its JSON lines."""
    env = dict(os.environ, BENCH_DATA=str(data))
    res = subprocess.run(
        [PY, script.name, *args],
        cwd=script.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]


# --- 1. idle tick -------------------------------------------------------------------------


def idle(args: argparse.Namespace, work: Path, rows: list[str]) -> None:
    runs = args.idle_runs
    bare = median_subprocess([PY, "-c", "pass"], runs)
    rows.append(f"| `python -c pass` (this run) | {bare * 1000:.0f} ms | floor |")
    imp = median_subprocess([PY, "-c", "import journeyctl.cli"], runs)
    rows.append(f"| `python -c 'import journeyctl.cli'` | {imp * 1000:.0f} ms | part of idle |")
    # a) the one-send project: n contacts, n enrollments (done), n ledger rows, nothing due.
    ping = one_send_project(work)
    db = work / "idle-ping.db"
    t0 = parse_instant("2026-11-01T10:00:00+09:00", "Asia/Seoul")
    base = max(1, args.idle_contacts // 10)
    seed(ping, db, base, "i", t0 - timedelta(minutes=1))
    timed_tick(ping, db, t0)
    clone_history(db, args.idle_contacts // base - 1)
    print(f"idle db (one-send project): {counts(db)}", flush=True)
    t = t0 + timedelta(hours=1)
    wall = idle_cmd(ping, db, t, runs, work)
    rows.append(f"| idle tick `journeyctl run` one-send project, {counts(db)} | "
                f"{wall * 1000:.0f} ms | ≤ 120 ms |")  # fmt: skip
    # b) the stock library over tiled examples (its own parse/compile cost).
    stock = work / "stock"
    shutil.copytree(ROOT / "sequences", stock, ignore=shutil.ignore_patterns("outbox"))
    project = load_valid_project(stock)
    contacts = read_contacts(ROOT / "examples/contacts.csv", project.settings).items
    events = read_events(ROOT / "examples/events.csv", project.settings).items
    cs, es = tiled(args.stock_contacts, contacts, events)
    db = work / "idle-stock.db"
    build_now = parse_instant("2026-11-01T10:00:00+09:00", project.settings.timezone)
    start = time.perf_counter()
    run_once(project, db, now=build_now, clock=_wall, contacts=cs, events=es)
    build_s = time.perf_counter() - start
    store = SqliteStore(db)
    wake = store.next_wake()
    store.close()
    assert wake is None or wake > build_now, wake
    t = build_now + timedelta(seconds=30)
    if wake is not None and wake <= t:
        t = build_now + (wake - build_now) / 2
    print(f"idle db (stock library): {counts(db)}; built by one run_once in {build_s:.1f} s; "
          f"next wake {wake}; T = {t}", flush=True)  # fmt: skip
    wall = idle_cmd(stock, db, t, runs, work)
    rows.append(f"| idle tick `journeyctl run` stock library, {counts(db)} | "
                f"{wall * 1000:.0f} ms | ≤ 120 ms |")  # fmt: skip
    if args.limits and not args.skip_b9:
        for rec in b_json(args.limits / "b9_idle_tick.py", [str(runs)], work, 900):
            rows.append(f"| b9 floor: {rec['case']} (1M-row db) | {rec['median']:.0f} ms | floor |")
    imp_out = subprocess.run(
        [PY, "-X", "importtime", "-m", "journeyctl", "--help"], capture_output=True, text=True
    ).stderr.splitlines()
    parsed = []
    for line in imp_out:
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            parsed.append((int(parts[1]), line))
    print("\n`python -X importtime -m journeyctl --help` top cumulative (us):\n```")
    for _, line in sorted(parsed)[-12:]:
        print(line)
    print("```", flush=True)


def idle_cmd(project_dir: Path, db: Path, t: datetime, runs: int, cwd: Path) -> float:
    argv = [PY, "-m", "journeyctl", "run", str(project_dir), "--db", str(db)]
    argv += ["--now", t.isoformat()]
    check = subprocess.run(argv, capture_output=True, text=True, cwd=cwd)
    print(f"idle run exit {check.returncode}: {check.stdout.strip()[:200]}", flush=True)
    assert check.returncode == 0 and " 0 contact(s) advanced" in check.stdout, check
    return median_subprocess(argv, runs, cwd=cwd)


def _wall() -> datetime:
    return datetime.now().astimezone()


# --- 2./3. tick work per message ----------------------------------------------------------


def one_send_project(work: Path) -> Path:
    d = work / "ping"
    (d / "templates/ping").mkdir(parents=True, exist_ok=True)
    (d / "journey.yaml").write_text(ONE_SEND_JOURNEY, encoding="utf-8")
    (d / "ping.yaml").write_text(ONE_SEND_SEQUENCE, encoding="utf-8")
    (d / "templates/ping/pong.html.j2").write_text(ONE_SEND_TEMPLATE, encoding="utf-8")
    return d


def people(n: int, prefix: str, at: datetime) -> tuple[list[Contact], list[Event]]:
    cs = [
        Contact(
            id=f"{prefix}{i}",
            email=f"{prefix}{i}@example.com",
            name=f"고객{i}",
            timezone="Asia/Seoul",
            attrs={},
        )
        for i in range(n)
    ]
    es = [Event(contact_id=c.id, name="ping", at=at) for c in cs]
    return cs, es


def seed(project_dir: Path, db: Path, n: int, prefix: str, at: datetime) -> None:
    """Contacts + one ping each at `at`, imported without a tick (untimed)."""
    from journeyctl.imports import import_contacts, import_events

    project = load_valid_project(project_dir)
    cs, es = people(n, prefix, at)
    store = SqliteStore(db)
    try:
        with store.transaction():
            import_contacts(store, cs, at)
            import_events(store, es, at, project.settings.events.max_age.approx())
    finally:
        store.close()


def timed_tick(
    project_dir: Path, db: Path, t: datetime, profile: Path | None = None
) -> tuple[float, int]:
    project = load_valid_project(project_dir)
    engine = make_engine(project)
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    t0 = time.perf_counter()
    res = run_once(project, db, now=t, clock=_wall, engine=engine)
    dt = time.perf_counter() - t0
    if profile:
        prof.disable()
        prof.dump_stats(str(profile))
    assert res.report is not None and res.report.ok, res
    return dt, res.report.delivered


def clone_history(db: Path, copies: int) -> None:
    """Multiply every contact's rows with new ids: history of the same shape, quickly."""
    con = sqlite3.connect(db, isolation_level=None)
    renamed = {
        "contacts": {"id"},
        "contact_state": {"contact_id"},
        "events": {"contact_id"},
        "enrollments": {"id", "contact_id"},
        "ledger": {"key", "contact_id", "enrollment_id"},
    }
    con.execute("BEGIN")
    for k in range(copies):
        for table, cols in renamed.items():
            names = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
            pk_int = table in ("events", "ledger")
            sel = []
            ins = []
            for c in names:
                if pk_int and c == "id":
                    continue
                ins.append(c)
                sel.append(f"{c} || '-h{k}'" if c in cols else c)
            con.execute(
                f"INSERT INTO {table}({', '.join(ins)}) SELECT {', '.join(sel)} FROM {table} "
                f"WHERE {next(iter(sorted(cols)))} NOT LIKE '%-h%'"
            )
    con.execute("COMMIT")
    con.close()


def counts(db: Path) -> str:
    con = sqlite3.connect(db)
    n = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
         for t in ("contacts", "events", "enrollments", "ledger")}  # fmt: skip
    con.close()
    return ", ".join(f"{k} {v:,}" for k, v in n.items())


def raw_executemany(work: Path, n: int) -> float:
    """Rows/s of one executemany of n ledger-shaped rows, same indexes, synchronous=FULL."""
    db = work / "raw.db"
    for s in ("", "-wal", "-shm"):
        Path(f"{db}{s}").unlink(missing_ok=True)
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute(
        "CREATE TABLE ledger (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, contact_id TEXT,"
        " step TEXT, at INT, state TEXT, next_attempt_at INT)"
    )
    con.execute("CREATE INDEX lc ON ledger(contact_id, id)")
    con.execute(
        "CREATE INDEX lq ON ledger(next_attempt_at, id) WHERE state IN ('planned', 'retry')"
    )
    rows = [(f"k{i}", f"c{i}", "pong", i, "sent", i) for i in range(n)]
    t0 = time.perf_counter()
    con.execute("BEGIN")
    con.executemany(
        "INSERT INTO ledger(key, contact_id, step, at, state, next_attempt_at) "
        "VALUES (?,?,?,?,?,?)",
        rows,
    )
    con.execute("COMMIT")
    dt = time.perf_counter() - t0
    con.close()
    return n / dt


def work_per_message(args: argparse.Namespace, work: Path, rows: list[str]) -> None:
    project_dir = one_send_project(work)
    tz = "Asia/Seoul"
    t = parse_instant("2026-11-02T10:00:00+09:00", tz)
    base: dict[int, float] = {}
    busiest: tuple[int, Path] | None = None
    for n in args.sizes:
        db = work / f"work-{n}.db"
        seed(project_dir, db, n, "p", t - timedelta(minutes=1))
        dt, sent = timed_tick(project_dir, db, t)
        assert sent == n, (sent, n)
        base[n] = dt / n
        print(f"work N={n:,}: {dt:.2f} s, {n / dt:,.0f} msg/s ({counts(db)})", flush=True)
        rows.append(f"| tick N={n:,} due, empty history | {n / dt:,.0f} msg/s ({dt:.2f} s) |"
                    " ≥ 5,000 msg/s |")  # fmt: skip
        raw = raw_executemany(work, n)
        rows.append(f"| raw sqlite executemany N={n:,} ledger rows, same shape of indexes |"
                    f" {raw:,.0f} rows/s | floor; tick = {n / dt / raw:.1%} of it |")  # fmt: skip
        busiest = (n, db)
    # 3. flat cost: history of 10x N first, then N new due messages.
    for n in args.sizes:
        if n > args.flat_max:
            continue
        db = work / f"flat-{n}.db"
        t_hist = t - timedelta(days=1)
        seed(project_dir, db, n, "h", t_hist - timedelta(minutes=1))
        timed_tick(project_dir, db, t_hist)
        clone_history(db, 9)
        seed(project_dir, db, n, "p", t - timedelta(minutes=1))
        before = counts(db)
        dt, sent = timed_tick(project_dir, db, t)
        assert sent == n, (sent, n)
        ratio = (dt / n) / base[n]
        print(f"flat N={n:,} on ({before}): {dt:.2f} s, {n / dt:,.0f} msg/s", flush=True)
        rows.append(f"| tick N={n:,} due, history 10x N | {n / dt:,.0f} msg/s ({dt:.2f} s);"
                    f" per-message cost {ratio:.2f}x empty | ≤ 1.5x |")  # fmt: skip
    if args.limits and not args.skip_aps:
        try:
            import sqlalchemy  # noqa: F401
        except ImportError:
            rows.append("| APScheduler baseline | not run: sqlalchemy not installed | |")
        else:
            n = args.aps_n or max(args.sizes)
            recs = b_json(args.limits / "b7_apscheduler.py", [str(n), "1"], work, 1800)
            for rec in recs:
                if rec["case"].startswith("fire all due jobs"):
                    m = n if n in base else max(base)
                    vs = f"; journeyctl (N={m:,}) is {1 / base[m] / rec['median']:.2f}x"
                    rows.append(f"| b7 APScheduler {rec['case']} N={n:,} |"
                                f" {rec['median']:,.0f} jobs/s | baseline{vs} (goal ≥ 2x) |")  # fmt: skip
                elif rec["case"].startswith("add_job"):
                    rows.append(f"| b7 APScheduler {rec['case']} N={n:,} |"
                                f" {rec['median']:,.0f} jobs/s | (scheduling side) |")  # fmt: skip
    if args.profile and busiest:
        n, _ = busiest
        db = work / f"prof-{n}.db"
        seed(project_dir, db, n, "p", t - timedelta(minutes=1))
        prof = work / "tick.prof"
        dt, _ = timed_tick(project_dir, db, t, profile=prof)
        import pstats

        print(f"\ncProfile of one tick N={n:,} ({dt:.2f} s under the profiler):\n```")
        pstats.Stats(str(prof)).sort_stats("tottime").print_stats(20)
        print("```")
        pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(25)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle-contacts", type=int, default=100_000)
    ap.add_argument("--stock-contacts", type=int, default=5_000)
    ap.add_argument("--idle-runs", type=int, default=11)
    ap.add_argument("--sizes", type=int, nargs="*", default=[20_000])
    ap.add_argument("--flat-max", type=int, default=20_000)
    ap.add_argument("--aps-n", type=int, default=5_000)
    ap.add_argument("--limits", type=Path, default=None, help="bench-limits directory")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--skip-idle", action="store_true")
    ap.add_argument("--skip-work", action="store_true")
    ap.add_argument("--skip-b9", action="store_true")
    ap.add_argument("--skip-aps", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="journeyctl-bench-tick-"))
    rows = ["| case | measured | goal / floor |", "|---|---|---|"]
    steps: list[Callable[[argparse.Namespace, Path, list[str]], None]] = []
    if not args.skip_idle:
        steps.append(idle)
    if not args.skip_work:
        steps.append(work_per_message)
    try:
        for step in steps:
            step(args, work, rows)
    finally:
        print()
        print("\n".join(rows), flush=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
