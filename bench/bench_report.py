"""`journeyctl report` as a process over a large ledger: wall time and peak RSS per format,
this checkout against an earlier revision's code (issue 19: the report read contact window by
contact window instead of whole).

    python bench/bench_report.py [--ledger 1000000] [--reps 3] [--before REV] [--db FILE] [--pg]

The database is bench_pages.ledger_db's (the stock library's month over examples/ copied until
the ledger holds N rows; opens on 30%, clicks on 5% of the emails sent); `--db FILE` keeps it
(built when missing, reused when present). `--before REV`: REV's `journeyctl/` is extracted
(git archive) and run by this venv's interpreter, first on PYTHONPATH, so both sides use the
same interpreter and dependencies. Runs alternate between the sides and the formats; medians.
The outputs of both sides are compared byte for byte. `--pg`: the database is copied with
`journeyctl db migrate` into a throw-away PostgreSQL cluster (tests/pg.py) and `report` reads
it there (`--db URL`); the peak RSS is the client's, the server's own memory is not counted.
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


def measure(
    sides: dict[str, str],
    formats: list[str],
    reps: int,
    args: list[str],
    work: Path,
    out: dict[str, object],
) -> dict[str, list[tuple[float, float]]]:
    """(wall s, peak MB) per side and format; `out` gets whether the sides' outputs match."""
    runs: dict[str, list[tuple[float, float]]] = {f"{s} {f}": [] for f in formats for s in sides}
    print("database ready", file=sys.stderr, flush=True)
    for _ in range(reps):
        for fmt in formats:
            for side, path in sides.items():
                env = {**os.environ, "PYTHONPATH": path, "NO_COLOR": "1", "COLUMNS": "120"}
                argv = [PY, "-m", "journeyctl", "report", *args, "--format", fmt,
                        "--out", str(work / f"{side}.{fmt}")]  # fmt: skip
                wall, mb, _ = run_measured(argv, env, work)
                runs[f"{side} {fmt}"].append((wall, mb))
                print(side, fmt, round(wall, 1), "s", round(mb), "MB", os.getloadavg()[0],
                      file=sys.stderr, flush=True)  # fmt: skip
            if "before" in sides:
                got = [(work / f"{side}.{fmt}").read_bytes() for side in ("after", "before")]
                out[f"identical {fmt}"] = got[0] == got[1]
    return runs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ledger", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--before", default=None, help="a git revision to compare with")
    ap.add_argument("--db", type=Path, default=None, help="keep (or reuse) the database here")
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--pg", action="store_true", help="read the database from PostgreSQL")
    args = ap.parse_args()
    out: dict[str, object] = {"load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        work = Path(tmp)
        project = work / "project"
        shutil.copytree(ROOT / "sequences", project, ignore=shutil.ignore_patterns("outbox"))
        db = args.db or work / "ledger.db"
        if not db.exists():
            out["ledger_rows"] = ledger_db(args.ledger, db)
        sides = {"after": str(ROOT)}
        if args.before:
            sides["before"] = str(checkout(args.before, work))
        formats = args.formats.split(",")
        if not args.pg:
            runs = measure(sides, formats, args.reps, [str(project), "--db", str(db)], work, out)
        else:
            from tests.pg import Cluster, find_bindir

            bindir = find_bindir()
            if bindir is None:
                raise SystemExit("--pg: PostgreSQL is not installed")
            cluster = Cluster(bindir)
            try:
                url = cluster.new_database()
                env = {**os.environ, "PYTHONPATH": str(ROOT)}
                subprocess.run([PY, "-m", "journeyctl", "db", "migrate", "--from", str(db),
                                "--to", url], env=env, check=True, capture_output=True)  # fmt: skip
                runs = measure(sides, formats, args.reps, [str(project), "--db", url], work, out)
            finally:
                cluster.close()
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
