"""`diff --base HEAD~1 --contacts ... --days 30` (a change's impact) against what a user would
otherwise run: `simulate` on the base version and `simulate` on the new one, as processes.

    python bench/bench_impact.py [--contacts 320 100000] [--reps 3]

A git repository in a temporary directory holds the stock library (`shop/`) committed twice:
the base, then the change (the first `wait: 2d` of welcome.yaml made 3d). 320 contacts are
examples/ as they are; larger sizes are examples/ tiled (bench_commands.tile). Repetitions
alternate between the two ways so drift on a shared machine hits both alike. Wall time and the
child's peak RSS (wait4) per command; the two simulates' wall times are summed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_commands import run_measured, tile  # noqa: E402


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def repo(work: Path) -> tuple[Path, Path]:
    """The repository's project after the change, and a copy of the base version."""
    git(work, "init", "-q", "-b", "main")
    git(work, "config", "user.email", "bench@example.com")
    git(work, "config", "user.name", "bench")
    shop = work / "shop"
    shutil.copytree(ROOT / "sequences", shop, ignore=shutil.ignore_patterns("tests", "outbox"))
    base = work / "base"
    shutil.copytree(shop, base)
    git(work, "add", "shop")
    git(work, "commit", "-q", "-m", "base")
    path = shop / "welcome.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("  - wait: 2d\n", "  - wait: 3d\n", 1),
        encoding="utf-8",
    )
    git(work, "commit", "-q", "-am", "welcome: popular-picks a day later")
    return shop, base


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, nargs="+", default=[320, 100_000])
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    exe = str(ROOT / ".venv" / "bin" / "journeyctl")
    env = {**os.environ, "NO_COLOR": "1"}
    with tempfile.TemporaryDirectory(prefix="bench-impact-") as tmp:
        work = Path(tmp)
        shop, base = repo(work)
        for n in args.contacts:
            if n == 320:
                contacts, events = ROOT / "examples/contacts.csv", ROOT / "examples/events.csv"
            else:
                data = work / f"data-{n}"
                data.mkdir()
                contacts, events = tile(n, data)
            period = ["--contacts", str(contacts), "--events", str(events)]
            period += ["--start", "2026-11-01", "--days", "30"]
            diff = [exe, "diff", str(shop), "--base", "HEAD~1", *period]
            rows: dict[str, list[float]] = {"diff_s": [], "diff_mb": [], "two_sims_s": [],
                                            "sim_mb": []}  # fmt: skip
            for _ in range(args.reps):
                wall, mb, _ = run_measured(diff, env, work)
                rows["diff_s"].append(wall)
                rows["diff_mb"].append(mb)
                print(f"  {n} diff --contacts {wall:.2f} s {mb:.0f} MB", flush=True)
                total, peak = 0.0, 0.0
                for side in (base, shop):
                    wall, mb, _ = run_measured([exe, "simulate", str(side), *period], env, work)
                    total += wall
                    peak = max(peak, mb)
                print(f"  {n} two simulates {total:.2f} s", flush=True)
                rows["two_sims_s"].append(total)
                rows["sim_mb"].append(peak)
            med = {k: statistics.median(v) for k, v in rows.items()}
            print(
                f"{n:>7} contacts: diff --contacts {med['diff_s']:.2f} s "
                f"({med['diff_mb']:.0f} MB), two simulates {med['two_sims_s']:.2f} s "
                f"({med['sim_mb']:.0f} MB each at most), ratio "
                f"{med['diff_s'] / med['two_sims_s']:.2f}; runs: "
                + "; ".join(f"{k} " + ", ".join(f"{x:.2f}" for x in v) for k, v in rows.items()),
                flush=True,
            )


if __name__ == "__main__":
    main()
