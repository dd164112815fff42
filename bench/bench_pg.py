"""Benchmark `journeyctl run` on PostgreSQL with 1, 2 and 4 worker processes, beside one
worker on SQLite measured in the same run, to the file outbox and to a local webhook sink;
then the idle tick on each store (issue 18).

The project is bench_tick's one transactional send per `ping` event (`--channel webhook`
points it at a local HTTP server that answers 200). N contacts with one due ping each are
seeded into a SQLite file once (untimed); PostgreSQL gets the same state with
`journeyctl db migrate` into a template database, and every measured run starts from a fresh
`CREATE DATABASE ... TEMPLATE` copy (SQLite: a copy of the file) and an empty outbox. W
workers are W concurrent `python -m journeyctl run PROJECT --db URL --now T` processes; the
wall time is from the first start to the last exit, and every delivery is counted (outbox
lines, or requests at the sink). Repetitions alternate the configurations.

The idle tick: `run` again at the same T once everything was delivered (nothing due), the
median of --idle-runs.

PostgreSQL is a throw-away cluster made with the test suite's helper (tests/pg.py) with
`fsync = on` (the test cluster turns it off): SQLite runs with synchronous=FULL, so both
stores make each commit durable.

    python bench/bench_pg.py [--n 20000] [--reps 3] [--workers 1,2,4] [--idle-runs 11]
        [--channel outbox|webhook|both]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("UNSUBSCRIBE_SECRET", "bench-only-not-a-secret")

from bench_tick import one_send_project, seed  # noqa: E402

from journeyctl.data.instants import parse_instant  # noqa: E402
from tests.pg import Cluster, find_bindir  # noqa: E402

PY = sys.executable


class Sink:
    """A local webhook receiver counting the requests it answered 200."""

    def __init__(self) -> None:
        self.count = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    outer.count += 1
                # One write: a status line and a body in two segments would wait for the
                # client's delayed ACK (Nagle), 40 ms a delivery.
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def project_for(work: Path, channel: str, sink: Sink) -> Path:
    project = one_send_project(work / channel)
    if channel == "webhook":
        journey = project / "journey.yaml"
        journey.write_text(
            journey.read_text(encoding="utf-8").replace(
                "email: {type: file, path: outbox/, medium: email}",
                f'email: {{type: webhook, url: "http://127.0.0.1:{sink.port}/hook", '
                "medium: email}",
            ),
            encoding="utf-8",
        )
    return project


def run_workers(project: Path, db: str, now: str, workers: int) -> tuple[float, float]:
    """Wall seconds from the first start to the last exit, and the workers' CPU seconds."""
    argv = [PY, "-m", "journeyctl", "run", str(project), "--db", db, "--now", now]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(workers)
    ]
    cpu = 0.0
    for p in procs:
        _, status, usage = os.wait4(p.pid, 0)
        cpu += usage.ru_utime + usage.ru_stime
        p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    for p in procs:
        if p.returncode != 0:
            err = p.stderr.read().decode() if p.stderr else ""
            raise SystemExit(f"run exit {p.returncode}: {err}")
    return wall, cpu


def idle_median(project: Path, db: str, now: str, runs: int) -> float:
    argv = [PY, "-m", "journeyctl", "run", str(project), "--db", db, "--now", now]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    first = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    assert first.returncode == 0 and " 0 contact(s) advanced" in first.stdout, first
    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, check=True)
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls)


def delivered(project: Path, channel: str, sink: Sink, base: int) -> int:
    if channel == "webhook":
        return sink.count - base
    with (project / "outbox" / "email.jsonl").open("rb") as fh:
        return sum(1 for _ in fh)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--idle-runs", type=int, default=11)
    ap.add_argument("--channel", choices=("outbox", "webhook", "both"), default="both")
    args = ap.parse_args()
    counts = [int(x) for x in args.workers.split(",")]
    channels = ["outbox", "webhook"] if args.channel == "both" else [args.channel]
    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL is not installed (initdb, pg_ctl)")
    print(f"load average before: {os.getloadavg()}, {os.cpu_count()} CPUs", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    cluster = Cluster(bindir)
    try:
        with (cluster.data / "postgresql.conf").open("a", encoding="ascii") as conf:
            conf.write("fsync = on\nfull_page_writes = on\n")  # the last setting wins
        cluster.restart()
        import psycopg

        sink = Sink()
        t = parse_instant("2026-11-02T10:00:00+09:00", "Asia/Seoul")
        now = t.isoformat()
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        idle: dict[str, float] = {}
        for channel in channels:
            project = project_for(work, channel, sink)
            seeded = work / f"{channel}-seeded.db"
            seed(project, seeded, args.n, "p", t - timedelta(minutes=1))
            template = cluster.new_database()
            t_move = time.perf_counter()
            moved = subprocess.run(
                [PY, "-m", "journeyctl", "db", "migrate", "--from", str(seeded), "--to", template],
                cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True,
                text=True,
            )  # fmt: skip
            assert moved.returncode == 0, moved.stderr
            print(
                f"{channel}: db migrate of the seeded state ({args.n:,} contacts and events) "
                f"took {time.perf_counter() - t_move:.2f} s",
                flush=True,
            )
            template_name = template.rsplit("/", 1)[1]
            configs = [("sqlite", 1)] + [("postgres", w) for w in counts]
            for rep in range(args.reps):
                for store, w in configs:
                    shutil.rmtree(project / "outbox", ignore_errors=True)
                    if store == "sqlite":
                        db_path = work / "run.db"
                        for suffix in ("", "-wal", "-shm", ".checked"):
                            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
                        shutil.copy(seeded, db_path)
                        db = str(db_path)
                    else:
                        name = f"run_{channel}_{rep}_{w}"
                        with psycopg.connect(cluster.url(), autocommit=True) as conn:
                            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
                        db = cluster.url(name)
                    base = sink.count
                    wall, cpu = run_workers(project, db, now, w)
                    got = delivered(project, channel, sink, base)
                    assert got == args.n, (channel, store, w, got)
                    results.setdefault((channel, f"{store} ×{w}"), []).append((wall, cpu))
                    print(
                        f"{channel} rep {rep + 1} {store} ×{w}: {wall:.2f} s, "
                        f"{args.n / wall:,.0f} msg/s, CPU {cpu:.2f} s, "
                        f"load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
                    if rep == args.reps - 1 and channel == channels[0] and w == 1:
                        idle[store] = idle_median(project, db, now, args.idle_runs)
        print(f"\n{args.n:,} messages (one per contact), median of {args.reps}:\n")
        print("| channel | store × workers | wall s (each) | msg/s (median) | × SQLite | "
              "CPU s (median) |\n|---|---|---|---|---|---|")  # fmt: skip
        for channel in channels:
            base_wall = statistics.median(w for w, _ in results[(channel, "sqlite ×1")])
            for (ch, label), runs in results.items():
                if ch != channel:
                    continue
                walls = [w for w, _ in runs]
                med = statistics.median(walls)
                print(
                    f"| {ch} | {label} | {', '.join(f'{w:.2f}' for w in walls)} | "
                    f"{args.n / med:,.0f} | {base_wall / med:.2f} | "
                    f"{statistics.median(c for _, c in runs):.2f} |"
                )
        print("\n| idle tick | median ms |\n|---|---|")
        for store, wall in idle.items():
            print(f"| {store} | {wall * 1000:.0f} |")
        if len(idle) == 2:
            print(f"\nidle PostgreSQL / SQLite: {idle['postgres'] / idle['sqlite']:.2f}×")
        print(f"load average after: {os.getloadavg()}", flush=True)
    finally:
        cluster.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
