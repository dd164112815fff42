"""`journeyctl contacts import` of a big CSV, as a user runs it: wall time and peak RSS.

    python bench/bench_import.py              # 1,000,000 rows (issue 14: <= 90 s, <= 300 MB)
    python bench/bench_import.py 100000       # custom sizes
    python bench/bench_import.py --keep DIR   # generate into DIR and keep the files

Generates a contacts CSV (the columns of bench_readers.py: known columns, typed attributes,
Korean names), a minimal project typing those columns, then runs the command as a subprocess
with an empty database and measures the child's wall time and peak RSS
(resource.getrusage(RUSAGE_CHILDREN).ru_maxrss, one child per run, so each run is alone in its
own measuring process). A second import of the same file (every row seen, none new) is timed
too. Prints a Markdown table for bench/RESULTS.md ("## Import (issue 14)").
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_readers import make_contacts  # noqa: E402

JOURNEY = """\
timezone: Asia/Seoul
unsubscribe_secret: "${UNSUBSCRIBE_SECRET}"
channels:
  email: {type: file, path: outbox/, medium: email}
contacts:
  fields: {signup_at: datetime, birthday: date, orders: int, vip: bool}
"""

WELCOME = """\
sequence: welcome
trigger: {event: subscribed}
steps:
  - send: hello
    channel: email
    subject: "Hi"
    body: "hello"
"""

# Measure one command per fresh Python child, so RUSAGE_CHILDREN's max is this command's.
_RUNNER = """
import resource, subprocess, sys, time, json
t = time.perf_counter()
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": p.returncode, "wall": wall, "maxrss_kb": ru.ru_maxrss,
                  "cpu": ru.ru_utime + ru.ru_stime, "out": p.stdout[-500:], "err": p.stderr[-2000:]}))
"""


def measure(cmd: list[str]) -> dict[str, object]:
    import json

    out = subprocess.run(
        [sys.executable, "-c", _RUNNER, *cmd], capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def journeyctl() -> str:
    exe = Path(sys.executable).with_name("journeyctl")
    return str(exe) if exe.exists() else "journeyctl"


def bench(n: int, root: Path) -> list[str]:
    project = root / "project"
    project.mkdir(parents=True, exist_ok=True)
    (project / "journey.yaml").write_text(JOURNEY, encoding="utf-8")
    (project / "welcome.yaml").write_text(WELCOME, encoding="utf-8")
    data = root / f"contacts-{n}.csv"
    if not data.exists():
        make_contacts(data, n)
    db = root / f"import-{n}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    size_mb = data.stat().st_size / 1e6
    cmd = [journeyctl(), "contacts", "import", str(data), "--db", str(db)]
    cmd += ["--project", str(project), "--now", "2026-03-01T09:00:00+09:00"]
    rows = []
    for label in ("first import (all new)", "again (all seen)"):
        r = measure(cmd)
        if r["rc"] != 0:
            raise SystemExit(f"exit {r['rc']}: {r['err']}")
        mb = int(str(r["maxrss_kb"])) / 1024
        rows.append(
            f"| {n:,} | {size_mb:.0f} | {label} | {float(str(r['wall'])):.1f} "
            f"| {float(str(r['cpu'])):.1f} | {mb:.0f} | {str(r['out']).strip()} |"
        )
        print(rows[-1], flush=True)
    stored = sqlite3.connect(db).execute("SELECT count(*) FROM contacts").fetchone()[0]
    if stored != n:
        raise SystemExit(f"expected {n} contacts in the database, found {stored}")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sizes", nargs="*", type=int, default=[1_000_000])
    ap.add_argument("--keep", type=Path, help="generate into this directory and keep it")
    args = ap.parse_args()
    os.environ.setdefault("UNSUBSCRIBE_SECRET", "bench-only-unsubscribe-secret")
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print()
    print("| rows | CSV MB | run | wall s | CPU s | peak RSS MB | output |")
    print("|---|---|---|---|---|---|---|")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        for n in args.sizes:
            bench(n, args.keep)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            for n in args.sizes:
                bench(n, Path(tmp))


if __name__ == "__main__":
    main()
