"""Benchmark `journeyctl run` (issue 4, Performance): idle tick, tick work per message, flat cost.

Each figure is printed beside its floor measured in the same run:

1. idle tick: `python -m journeyctl run PROJECT --db DB --now T` as a subprocess (median of 11)
   on (a) a one-send-project db of 100k contacts/enrollments/ledger rows (10k real, cloned) and
   (b) the stock library on tiled examples (one run_once), at a T before the next wake, vs `python -c pass` and bench-limits/b9_idle_tick.py; plus the top `-X importtime`.
2. tick work per message: N contacts with one `ping` event at T-1m each, a project with one
   event-triggered one-send sequence (file outbox); one run_once at T, timed; every line of
   the outbox counted. Beside it, measured in the same run: raw sqlite `executemany` of N
   ledger rows into the real schema (sync=FULL), and the naive design, APScheduler 3 with one
   date job per message in a SQLAlchemyJobStore on SQLite (`--aps-n` jobs; skipped with a
   line in the table when sqlalchemy or apscheduler is not installed).
3. flat cost: (2) again after the db holds 10x N of history (one real tick of N messages,
   then its rows cloned with new ids), per-message ratio to (2); and `--history-rows R ...`:
   `--history-due` messages on a db whose enrollments, ledger and events hold R rows each
   (built by INSERT ... SELECT in the real schema).

    python bench/bench_tick.py [--idle-contacts 100000] [--sizes 10000 100000]
        [--history-rows 100000 10000000] [--limits /path/to/bench-limits] [--profile]
        [--skip-idle] [--skip-aps]
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
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
# The stock library signs unsubscribe links with ${UNSUBSCRIBE_SECRET}: `run` refuses without one.
os.environ.setdefault("UNSUBSCRIBE_SECRET", "bench-only-not-a-secret")

from bench_simulate import tiled  # noqa: E402

from journeyctl.data.contacts import read_contacts  # noqa: E402
from journeyctl.data.events import read_events  # noqa: E402
from journeyctl.data.instants import parse_instant  # noqa: E402
from journeyctl.engine.make import make_engine  # noqa: E402
from journeyctl.engine.model import Contact, Event  # noqa: E402
from journeyctl.run.once import run_once  # noqa: E402
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
    from journeyctl.run.imports import import_contacts, import_events

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
    """Wall seconds of one run_once and messages delivered; its CPU seconds (process time,
    less sensitive than wall time to the other work on a shared box) go to LAST_TICK_CPU."""
    global LAST_TICK_CPU
    project = load_valid_project(project_dir)
    engine = make_engine(project)
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    c0 = time.process_time()
    t0 = time.perf_counter()
    res = run_once(project, db, now=t, clock=_wall, engine=engine)
    dt = time.perf_counter() - t0
    LAST_TICK_CPU = time.process_time() - c0
    if profile:
        prof.disable()
        prof.dump_stats(str(profile))
    assert res.report is not None and res.report.ok, res
    return dt, res.report.delivered


LAST_TICK_CPU = 0.0


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
    """Floor: rows/s of one `executemany` of n ledger rows shaped like the tick's (the real
    schema and indexes, WAL, synchronous=FULL, one transaction)."""
    db = work / "raw.db"
    for s in ("", "-wal", "-shm"):
        Path(f"{db}{s}").unlink(missing_ok=True)
    SqliteStore(db).close()  # the real schema
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    html = ONE_SEND_TEMPLATE.replace("{{ contact.name }}", "고객")
    rows = [
        (f"{i:032x}", f"p{i}", "ping", "pong", "email", i, "sent", f"ping:p{i}:1", 0,
         "[Haru Market] 고객, pong", html, f"p{i}@example.com", "sent", 1, i)
        for i in range(n)
    ]  # fmt: skip
    t0 = time.perf_counter()
    con.execute("BEGIN")
    con.executemany(
        "INSERT INTO ledger(key, contact_id, sequence, step, channel, at, status, enrollment_id, "
        "is_marketing, subject, html, to_addr, state, attempts, delivered_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    con.execute("COMMIT")
    dt = time.perf_counter() - t0
    con.close()
    return n / dt


_APS: dict[str, Any] = {"n": 0, "fired": 0, "done": None}
_APS_LOCK = threading.Lock()


def _aps_job(contact: int, step: int) -> None:
    """The job each message becomes (module level: the job store pickles a reference)."""
    with _APS_LOCK:
        _APS["fired"] += 1
        if _APS["fired"] >= _APS["n"]:
            _APS["done"].set()


def apscheduler_fire(work: Path, n: int, wal: bool) -> tuple[float, float] | str:
    """The naive design: one APScheduler 3 date job per message in a SQLAlchemyJobStore on a
    SQLite file; (add_job/s, fired jobs/s until the last job ran), or why it was not run.
    `wal`: WAL + synchronous=NORMAL (its fastest setting), else SQLite's defaults."""
    try:
        from datetime import UTC

        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler
        from sqlalchemy import event
    except ImportError as exc:
        return f"not run: {exc.name} is not installed (pip install sqlalchemy apscheduler)"
    import logging

    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    db = work / "aps.db"
    for s in ("", "-journal", "-wal", "-shm"):
        Path(f"{db}{s}").unlink(missing_ok=True)
    store = SQLAlchemyJobStore(url=f"sqlite:///{db}")
    if wal:

        @event.listens_for(store.engine, "connect")
        def _pragma(dbapi_con: sqlite3.Connection, _rec: object) -> None:
            dbapi_con.execute("PRAGMA journal_mode=WAL")
            dbapi_con.execute("PRAGMA synchronous=NORMAL")

    _APS["n"], _APS["fired"], _APS["done"] = n, 0, threading.Event()
    sched = BackgroundScheduler(
        jobstores={"default": store},
        executors={"default": ThreadPoolExecutor(10)},
        job_defaults={"misfire_grace_time": None, "coalesce": False, "max_instances": 1},
        timezone=UTC,
    )
    sched.start(paused=True)
    run_at = datetime.now(UTC)
    t0 = time.perf_counter()
    for i in range(n):
        sched.add_job(_aps_job, "date", run_date=run_at, args=(i, 1), id=f"msg-{i}")
    t_add = time.perf_counter() - t0
    t1 = time.perf_counter()
    sched.resume()
    ok = _APS["done"].wait(timeout=1800)
    t_fire = time.perf_counter() - t1
    sched.shutdown(wait=True)
    assert ok, f"APScheduler fired only {_APS['fired']} of {n}"
    return n / t_add, n / t_fire


def work_per_message(args: argparse.Namespace, work: Path, rows: list[str]) -> None:
    project_dir = one_send_project(work)
    tz = "Asia/Seoul"
    t = parse_instant("2026-11-02T10:00:00+09:00", tz)
    rate: dict[int, float] = {}
    busiest: tuple[int, Path] | None = None
    for n in args.sizes:
        db = work / f"work-{n}.db"
        seed(project_dir, db, n, "p", t - timedelta(minutes=1))
        raw = raw_executemany(work, n)  # floor, measured right before the tick
        dt, sent = timed_tick(project_dir, db, t)
        assert sent == n, (sent, n)
        rate[n] = n / dt
        outbox = project_dir / "outbox" / "email.jsonl"
        with outbox.open("rb") as fh:
            lines = sum(1 for _ in fh)
        outbox.unlink()
        assert lines == n, (lines, n)  # every message really reached the outbox, once
        cpu_us = LAST_TICK_CPU / n * 1e6
        print(f"work N={n:,}: {dt:.2f} s, {n / dt:,.0f} msg/s, CPU {cpu_us:.0f} us/msg "
              f"({counts(db)}); raw executemany {raw:,.0f} rows/s", flush=True)  # fmt: skip
        rows.append(f"| tick N={n:,} due, empty history | {n / dt:,.0f} msg/s ({dt:.2f} s);"
                    f" CPU {cpu_us:.0f} µs/msg | ≥ 5,000 msg/s |")  # fmt: skip
        rows.append(f"| raw sqlite `executemany` N={n:,} ledger rows, real schema and indexes,"
                    f" sync=FULL | {raw:,.0f} rows/s | floor; tick = {n / dt / raw:.1%} of it |")  # fmt: skip
        busiest = (n, db)
    if not args.skip_aps:
        n_aps = args.aps_n
        m = max(rate)
        for wal, mode in ((True, "WAL + synchronous=NORMAL"), (False, "SQLite defaults")):
            if not wal and not args.aps_default:
                continue
            res = apscheduler_fire(work, n_aps, wal)
            if isinstance(res, str):
                rows.append(f"| APScheduler baseline | {res} | |")
                print(f"APScheduler baseline {res}", flush=True)
                break
            add, fire = res
            print(f"APScheduler N={n_aps:,} [{mode}]: add_job {add:,.0f}/s, fire {fire:,.0f}/s",
                  flush=True)  # fmt: skip
            rows.append(f"| APScheduler 3 + SQLAlchemyJobStore [{mode}], fire N={n_aps:,} due jobs"
                        f" (no rendering) | {fire:,.0f} jobs/s | journeyctl N={m:,} is"
                        f" **{rate[m] / fire:.2f}x** (goal ≥ 2x) |")  # fmt: skip
            rows.append(f"| APScheduler add_job [{mode}] N={n_aps:,} | {add:,.0f} jobs/s |"
                        " scheduling side, untimed in the ratio |")  # fmt: skip
    # 3. flat cost: history of 10x N cloned first, then N new due messages.
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
        ratio = rate[n] / (n / dt)
        print(f"flat N={n:,} on ({before}): {dt:.2f} s, {n / dt:,.0f} msg/s", flush=True)
        rows.append(f"| tick N={n:,} due, history 10x N | {n / dt:,.0f} msg/s ({dt:.2f} s);"
                    f" per-message cost {ratio:.2f}x empty | ≤ 1.5x |")  # fmt: skip
    for hist in args.history_rows:
        flat_history(args, work, project_dir, t, hist, rows)
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


def build_history(db: Path, rows: int) -> None:
    """`rows` enrollments, ledger rows and events of finished history (rows/10 sleeping
    contacts, 10 of each per contact) in the real schema, by INSERT ... SELECT: 10M in minutes."""
    SqliteStore(db).close()  # the real schema
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA synchronous=OFF")  # building fixture data, not the measured tick
    con.execute("PRAGMA cache_size=-1000000")
    people = max(1, rows // 10)
    t0_us = 1_700_000_000_000_000
    gen = "WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < ?) "
    con.execute("BEGIN")
    con.execute(
        gen + "INSERT INTO contacts(id, email, name, timezone) "
        "SELECT 'h' || i, 'h' || i || '@example.com', '고객' || i, 'Asia/Seoul' FROM g",
        (people - 1,),
    )
    con.execute(
        gen + "INSERT INTO contact_state(contact_id, cursor) SELECT 'h' || i, ? FROM g",
        (people - 1, t0_us),
    )
    con.execute(
        gen + "INSERT INTO enrollments(id, contact_id, sequence, version, entered_at, position, "
        "outcome, ended_at, seq) SELECT 'ping:h' || (i / 10) || ':' || (i % 10), "
        "'h' || (i / 10), 'ping', 'v1', ?2 + i, NULL, 'completed', ?2 + i, i % 10 FROM g",
        (rows - 1, t0_us),
    )
    con.execute(
        gen + "INSERT INTO events(contact_id, event, at, processed) "
        "SELECT 'h' || (i / 10), 'ping', ?2 + i, 1 FROM g",
        (rows - 1, t0_us),
    )
    con.execute(
        gen + "INSERT INTO ledger(key, contact_id, sequence, step, channel, at, status, "
        "enrollment_id, is_marketing, subject, to_addr, state, attempts, delivered_at) "
        "SELECT lower(hex(randomblob(16))), 'h' || (i / 10), 'ping', 'pong', 'email', ?2 + i, "
        "'sent', 'ping:h' || (i / 10) || ':' || (i % 10), 0, '[Haru Market] pong', "
        "'h' || (i / 10) || '@example.com', 'sent', 1, ?2 + i FROM g",
        (rows - 1, t0_us),
    )
    con.execute("COMMIT")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("ANALYZE")
    con.close()


def flat_history(
    args: argparse.Namespace, work: Path, project_dir: Path, t: datetime, hist: int,
    rows: list[str],
) -> None:  # fmt: skip
    """Per-message tick cost with `hist` rows of history in enrollments, ledger and events."""
    n = args.history_due
    db = work / f"hist-{hist}.db"
    for s in ("", "-wal", "-shm"):
        Path(f"{db}{s}").unlink(missing_ok=True)
    t0 = time.perf_counter()
    build_history(db, hist)
    build_s = time.perf_counter() - t0
    seed(project_dir, db, n, "p", t - timedelta(minutes=1))
    before = counts(db)
    size = db.stat().st_size
    raw = raw_executemany(work, n)
    dt, sent = timed_tick(project_dir, db, t)
    assert sent == n, (sent, n)
    (project_dir / "outbox" / "email.jsonl").unlink()
    us = dt / n * 1e6
    print(f"history {hist:,} ({before}; {size / 1e9:.2f} GB, built in {build_s:.0f} s): "
          f"N={n:,} in {dt:.2f} s = {n / dt:,.0f} msg/s, {us:.0f} us/msg; raw {raw:,.0f} rows/s",
          flush=True)  # fmt: skip
    rows.append(f"| tick N={n:,} due on {hist:,} history rows per table ({size / 1e9:.2f} GB) |"
                f" {n / dt:,.0f} msg/s, {us:.0f} µs/msg; {n / dt / raw:.2%} of raw executemany"
                " measured just before | flat: ≤ 1.5x from 100k to 10M |")  # fmt: skip
    db.unlink()
    for s in ("-wal", "-shm"):
        Path(f"{db}{s}").unlink(missing_ok=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle-contacts", type=int, default=100_000)
    ap.add_argument("--stock-contacts", type=int, default=5_000)
    ap.add_argument("--idle-runs", type=int, default=11)
    ap.add_argument("--sizes", type=int, nargs="*", default=[20_000])
    ap.add_argument("--flat-max", type=int, default=20_000)
    ap.add_argument("--aps-n", type=int, default=10_000, help="APScheduler baseline jobs")
    ap.add_argument(
        "--aps-default",
        action="store_true",
        help="also run APScheduler on SQLite's default journal (slow: fsync per job)",
    )
    ap.add_argument(
        "--history-rows",
        type=int,
        nargs="*",
        default=[],
        help="flat cost: history rows per table, e.g. 100000 10000000",
    )
    ap.add_argument("--history-due", type=int, default=10_000)
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
