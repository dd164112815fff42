"""`journeyctl report` as a process over a large ledger: wall time and peak RSS per format,
this checkout against an earlier revision's code (issue 19: the report read contact window by
contact window instead of whole).

    python bench/bench_report.py [--ledger 1000000] [--reps 3] [--before REV] [--db FILE]

The database is bench_pages.ledger_db's (the stock library's month over examples/ copied until
the ledger holds N rows; opens on 30%, clicks on 5% of the emails sent); `--db FILE` keeps it
(built when missing, reused when present). `--before REV`: REV's `journeyctl/` is extracted
(git archive) and run by this venv's interpreter, first on PYTHONPATH, so both sides use the
same interpreter and dependencies. Runs alternate between the sides and the formats; medians.
The outputs of both sides are compared byte for byte.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_commands import run_measured  # noqa: E402
from bench.bench_pages import ledger_db  # noqa: E402

PY = str(ROOT / ".venv" / "bin" / "python")
FORMATS = ("text", "json", "csv", "html")


def checkout(rev: str, into: Path) -> Path:
    """REV's journeyctl package under `into` (no build: the pure source)."""
    archive = into / "src.tar"
    with archive.open("wb") as fh:
        subprocess.run(["git", "archive", rev, "journeyctl"], cwd=ROOT, stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "src", filter="data")
    return into / "src"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ledger", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--before", default=None, help="a git revision to compare with")
    ap.add_argument("--db", type=Path, default=None, help="keep (or reuse) the database here")
    ap.add_argument("--formats", default=",".join(FORMATS))
    args = ap.parse_args()
    out: dict[str, object] = {"load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        work = Path(tmp)
        project = work / "project"
        shutil.copytree(ROOT / "sequences", project, ignore=shutil.ignore_patterns("outbox"))
        db = args.db or work / "ledger.db"
        if not db.exists():
            out["ledger_rows"] = ledger_db(args.ledger, db)
        print("database ready", file=sys.stderr, flush=True)
        sides = {"after": str(ROOT)}
        if args.before:
            sides["before"] = str(checkout(args.before, work))
        formats = args.formats.split(",")
        runs: dict[str, list[tuple[float, float]]] = {
            f"{s} {f}": [] for f in formats for s in sides
        }
        for _ in range(args.reps):
            for fmt in formats:
                for side, path in sides.items():
                    target = work / f"{side}.{fmt}"
                    env = {**os.environ, "PYTHONPATH": path, "NO_COLOR": "1", "COLUMNS": "120"}
                    argv = [PY, "-m", "journeyctl", "report", str(project), "--db", str(db),
                            "--format", fmt, "--out", str(target)]  # fmt: skip
                    wall, mb, _ = run_measured(argv, env, work)
                    runs[f"{side} {fmt}"].append((wall, mb))
                    print(side, fmt, round(wall, 1), "s", round(mb), "MB", os.getloadavg()[0],
                          file=sys.stderr, flush=True)  # fmt: skip
                if "before" in sides:
                    same = (work / f"after.{fmt}").read_bytes() == (
                        work / f"before.{fmt}"
                    ).read_bytes()
                    out[f"identical {fmt}"] = same
        out["median"] = {
            k: (
                round(statistics.median(w for w, _ in r), 2),
                round(statistics.median(m for _, m in r)),
            )
            for k, r in runs.items()
        }
    out["load_after"] = os.getloadavg()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
