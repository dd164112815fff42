"""`journeyctl simulate` as a user runs it, timed as a process: wall time and peak RSS.

    python bench/bench_simulate_cmd.py [--contacts 100000 1000000] [--formats table json jsonl]
        [--reps 1] [--checkout DIR] [--venv DIR]

The data is examples/ tiled to N contacts (bench_commands.tile: ids `-i`, emails `+i`; the
events keep the file's own order, so they are not grouped by contact). Per size, format and
engine: `simulate sequences --contacts … --events … --start 2026-11-01 --days 30`, the table to
/dev/null, `--format json|jsonl --out FILE`. The engine is the one the venv's install runs (an
editable `.venv` runs the source; `--venv .venv-wheel`, as `make demo` builds it, the compiled
wheel): its `journeyctl --version` names it in the results. A run whose RSS passes --kill-mb is
stopped (the machine is shared) and reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_commands import tile

ROOT = Path(__file__).resolve().parent.parent


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run(argv: list[str], env: dict[str, str], kill_mb: float) -> tuple[float, float, int, float]:
    """Wall seconds, peak RSS in MB of the command and its forked workers (wait4 reports the
    largest process; the watchdog sums the group), the exit code, and the CPU seconds of the
    command and its workers (steadier than wall time on a loaded machine)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    stop = threading.Event()
    killed = [False]

    def watch() -> None:
        while not stop.wait(0.5):
            kids = subprocess.run(
                ["pgrep", "-g", str(proc.pid)], capture_output=True, text=True
            ).stdout.split()
            if sum(_rss_mb(int(k)) for k in kids) > kill_mb:
                killed[0] = True
                os.killpg(proc.pid, signal.SIGKILL)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    stop.set()
    err = proc.stderr.read().decode() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    if killed[0]:
        return wall, kill_mb, -9, cpu
    if code not in (0, 1):
        raise SystemExit(f"simulate exited {code}: {err[-2000:]}")
    return wall, usage.ru_maxrss / 1024, code, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contacts", type=int, nargs="+", default=[100_000])
    ap.add_argument("--formats", nargs="+", default=["table", "json", "jsonl"])
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--checkout", type=Path, default=ROOT)
    ap.add_argument(
        "--pythonpath", default="", help="PYTHONPATH for the command (another tree's source)"
    )
    ap.add_argument("--data", type=Path, help="keep the tiled data here (reused when present)")
    ap.add_argument("--kill-mb", type=float, default=6000)
    ap.add_argument("--venv", type=Path, help="the venv whose journeyctl runs (default: .venv)")
    args = ap.parse_args()
    venv = args.venv if args.venv is not None else args.checkout.resolve() / ".venv"
    exe = str(venv.resolve() / "bin" / "journeyctl")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    label = "compiled" if "compiled" in version else "pure"
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        work = Path(tmp)
        for n in args.contacts:
            where = (args.data or work) / str(n)
            where.mkdir(parents=True, exist_ok=True)
            contacts, events = where / "contacts.csv", where / "events.csv"
            if not (contacts.exists() and events.exists()):
                tile(n, where)
            for fmt in args.formats:
                for engine in [label]:
                    env = dict(os.environ)
                    env["PYTHONPATH"] = args.pythonpath
                    argv = [exe, "simulate", str(args.checkout.resolve() / "sequences")]
                    argv += ["--contacts", str(contacts), "--events", str(events)]
                    argv += ["--start", "2026-11-01", "--days", "30"]
                    if fmt != "table":
                        argv += ["--format", fmt, "--out", str(work / f"out.{fmt}")]
                    walls, mbs, cpus = [], [], []
                    for _ in range(args.reps):
                        wall, mb, code, cpu = run(argv, env, args.kill_mb)
                        walls.append(wall)
                        mbs.append(mb)
                        cpus.append(cpu)
                        if code == -9:
                            break
                    row = {
                        "contacts": n,
                        "format": fmt,
                        "engine": engine,
                        "wall_s": round(statistics.median(walls), 2),
                        "cpu_s": round(statistics.median(cpus), 2),
                        "peak_rss_mb": round(max(mbs)),
                        "killed": code == -9,
                        "load": round(os.getloadavg()[0], 1),
                        "tree": args.pythonpath or "checkout",
                    }
                    print(json.dumps(row), flush=True)
                    (work / f"out.{fmt}").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
