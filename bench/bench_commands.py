"""The commands a user runs, timed as processes, for one or more checkouts back to back.

    python bench/bench_commands.py --checkout OLD --checkout NEW [--contacts 100000] [--reps 3]

Each checkout is a directory with its own `.venv` (the README's `make` builds it, compiled
engine included). The same tiled data (examples/ copied N times with new ids and emails) feeds
every checkout; repetitions alternate between checkouts so drift on a shared machine hits
them alike. Per checkout and repetition:

- `simulate` the stock sequences over the contacts and events, 30 days, table to /dev/null;
- `run` on a fresh database: import + the first tick (delivers to the file outbox);
- `run` two days later: a tick alone (no import), messages per second of the command;
- the idle minute: `run` again at the same instant, median of 11 (the fast path answers).

Wall time and the child's peak RSS (wait4) per command. Only the CLI is imported, never the
package, so checkouts with different module layouts compare alike.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START = "2026-11-01T10:00:00+09:00"
LATER = "2026-11-03T10:00:00+09:00"


def tile(n: int, out: Path) -> tuple[Path, Path]:
    """examples/ contacts and events copied until n contacts: ids `-i`, emails `+i`."""
    with (ROOT / "examples" / "contacts.csv").open(encoding="utf-8", newline="") as fh:
        contacts = list(csv.DictReader(fh))
    with (ROOT / "examples" / "events.csv").open(encoding="utf-8", newline="") as fh:
        events = list(csv.DictReader(fh))
    by: dict[str, list[dict[str, str]]] = {}
    for e in events:
        by.setdefault(e["contact_id"], []).append(e)
    c_path, e_path = out / "contacts.csv", out / "events.csv"
    with (
        c_path.open("w", encoding="utf-8", newline="") as cf,
        e_path.open("w", encoding="utf-8", newline="") as ef,
    ):
        cw = csv.DictWriter(cf, fieldnames=list(contacts[0]))
        ew = csv.DictWriter(ef, fieldnames=list(events[0]))
        cw.writeheader()
        ew.writeheader()
        written, i = 0, 0
        while written < n:
            for c in contacts:
                if written >= n:
                    break
                cid = f"{c['id']}-{i}"
                local, _, domain = c["email"].partition("@")
                cw.writerow({**c, "id": cid, "email": f"{local}+{i}@{domain}" if domain else ""})
                for e in by.get(c["id"], ()):
                    ew.writerow({**e, "contact_id": cid})
                written += 1
            i += 1
    return c_path, e_path


def run_measured(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, the child's own peak RSS in MB (wait4) and its stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code not in (0, 1):
            raise SystemExit(f"{' '.join(argv[1:3])} exited {code}: {err.read().decode()[-2000:]}")
        return wall, usage.ru_maxrss / 1024, out.read().decode()


def delivered(summary: str) -> int:
    data = json.loads(summary)
    for key in ("delivered", "sent"):
        if key in data:
            return int(data[key])
    raise SystemExit(f"no delivered count in the run summary: {sorted(data)}")


def measure(checkout: Path, data: tuple[Path, Path], work: Path) -> dict[str, float]:
    exe = str(checkout / ".venv" / "bin" / "journeyctl")
    env = {**os.environ, "UNSUBSCRIBE_SECRET": "bench-only", "JOURNEYCTL_NO_FASTPATH": "0"}
    contacts, events = data
    project = work / "project"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(checkout / "sequences", project, ignore=shutil.ignore_patterns("outbox"))
    db = work / "state.db"
    for suffix in ("", "-wal", "-shm", ".lock", ".checked"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    row: dict[str, float] = {}
    sim = [exe, "simulate", str(project), "--contacts", str(contacts), "--events", str(events)]
    sim += ["--start", "2026-11-01", "--days", "30"]
    row["simulate_s"], row["simulate_mb"], _ = run_measured(sim, env, work)
    first = [exe, "run", str(project), "--db", str(db), "--contacts", str(contacts)]
    first += ["--events", str(events), "--now", START, "--format", "json"]
    row["import_run_s"], row["import_run_mb"], out = run_measured(first, env, work)
    row["import_run_msgs"] = delivered(out)
    tick = [exe, "run", str(project), "--db", str(db), "--now", LATER, "--format", "json"]
    row["tick_s"], row["tick_mb"], out = run_measured(tick, env, work)
    row["tick_msgs"] = delivered(out)
    row["tick_msg_per_s"] = row["tick_msgs"] / row["tick_s"]
    idle = [exe, "run", str(project), "--db", str(db), "--now", LATER]
    walls = [run_measured(idle, env, work)[0] for _ in range(11)]
    row["idle_ms"] = statistics.median(walls) * 1000
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkout", action="append", type=Path, required=True)
    ap.add_argument("--contacts", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-commands-") as tmp:
        work = Path(tmp)
        data = tile(args.contacts, work)
        rows: dict[Path, list[dict[str, float]]] = {c: [] for c in args.checkout}
        for rep in range(args.reps):
            for checkout in args.checkout:
                row = measure(checkout.resolve(), data, work)
                rows[checkout].append(row)
                print(f"rep {rep + 1} {checkout.resolve().name}: {json.dumps(row)}", flush=True)
    keys = list(next(iter(rows.values()))[0])
    print(f"\n{args.contacts} contacts, median of {args.reps} alternating repetitions\n")
    print("| checkout | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for checkout, reps in rows.items():
        med = [statistics.median(r[k] for r in reps) for k in keys]
        print(f"| {checkout.resolve().name} | " + " | ".join(f"{v:,.2f}" for v in med) + " |")


if __name__ == "__main__":
    main()
