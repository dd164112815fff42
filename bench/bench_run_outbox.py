"""Benchmark the command `journeyctl run` delivering N messages to the file outbox, as a process,
across source trees measured back to back (to compare a change with its base).

A project of one event-triggered send (bench_tick's) and a database of N contacts with one due
`ping` each are made once; every run starts from a copy of that database and an empty outbox.
For each repetition, each tree runs once in turn (alternated, so a busy moment of a shared
machine falls on all of them): `python -m journeyctl run PROJECT --db DB --now T` with the tree
first on the path (its compiled engine, if current). Wall time, msg/s and the child's peak RSS
and CPU time (user + system: less sensitive than wall time to other work on a shared machine,
from `os.wait4`); every outbox line is counted.

    python bench/bench_run_outbox.py --tree before=/path/a --tree after=/path/b [--n 100000]
        [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("UNSUBSCRIBE_SECRET", "bench-only-not-a-secret")

from bench_tick import one_send_project, seed  # noqa: E402

from journeyctl.data.instants import parse_instant  # noqa: E402


def run_once(tree: Path, project: Path, db: Path, now: str) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak RSS (KB) of one `journeyctl run` in `tree`."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    env.pop("JOURNEYCTL_PURE", None)
    argv = [sys.executable, "-m", "journeyctl", "run", str(project), "--db", str(db)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*argv, "--now", now], cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out = (proc.stdout.read() + proc.stderr.read()).decode() if proc.stdout and proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{tree}: exit {proc.returncode}\n{out}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree", action="append", required=True, help="label=path of a source tree")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    trees = [(label, Path(path).resolve()) for label, path in (t.split("=", 1) for t in args.tree)]
    work = Path(tempfile.mkdtemp(prefix="bench-run-outbox-"))
    try:
        project = one_send_project(work)
        t = parse_instant("2026-11-02T10:00:00+09:00", "Asia/Seoul")
        seeded = work / "seeded.db"
        seed(project, seeded, args.n, "p", t - timedelta(minutes=1))
        results: dict[str, list[tuple[float, float, int]]] = {label: [] for label, _ in trees}
        for rep in range(args.reps):
            for label, tree in trees:
                db = work / "run.db"
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{db}{suffix}").unlink(missing_ok=True)
                shutil.copy(seeded, db)
                shutil.rmtree(project / "outbox", ignore_errors=True)
                wall, cpu, rss = run_once(tree, project, db, t.isoformat())
                with (project / "outbox" / "email.jsonl").open("rb") as fh:
                    lines = sum(1 for _ in fh)
                assert lines == args.n, (label, lines)
                results[label].append((wall, cpu, rss))
                print(f"rep {rep + 1} {label}: {wall:.2f} s, {args.n / wall:,.0f} msg/s, "
                      f"CPU {cpu:.2f} s, peak RSS {rss / 1024:.0f} MB", flush=True)  # fmt: skip
        print("\n| tree | wall s (each run) | median msg/s | CPU s (each run) | median CPU "
              "msg/s | peak RSS MB (max) |\n|---|---|---|---|---|---|")  # fmt: skip
        for label, runs in results.items():
            walls, cpus = [w for w, _, _ in runs], [c for _, c, _ in runs]
            print(f"| {label} | {', '.join(f'{w:.2f}' for w in walls)} | "
                  f"{args.n / statistics.median(walls):,.0f} | "
                  f"{', '.join(f'{c:.2f}' for c in cpus)} | "
                  f"{args.n / statistics.median(cpus):,.0f} | "
                  f"{max(r for _, _, r in runs) / 1024:.0f} |")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
