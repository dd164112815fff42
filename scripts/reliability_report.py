"""Run the crash-point sweep, the hostile corpus and the fuzz run, and write their figures
into docs/RELIABILITY.md.

    python scripts/reliability_report.py [--long] [--tree] [--dry-run] [--skip-sweep]

The `inputs` block: tests/hostile and tests/fuzz run once (`--long`: JOURNEYCTL_FUZZ=long),
counting the hostile cases, the saved fuzz corpus replayed and the examples hypothesis tried
(from its statistics), with any failure stopping the script (nothing written).

Runs tests/e2e/test_crash_points.py with JOURNEYCTL_SWEEP_SUMMARY set, then replaces the text
between the `crash-sweep` markers of docs/RELIABILITY.md with the figures of that run: kills
per point, repeats, runs, cases, the commit tested and how long it took. Nothing in that
block is typed by hand: a failed sweep writes nothing (exit 1).

By default the sweep runs on a clean export of HEAD (`git archive`, plus the compiled engine
if this tree has one), so the figures belong to a commit and not to whatever the working tree
holds at the moment; `--tree` runs on the working tree instead (the commit is then marked
`+dirty` when the tree differs). `--long`: JOURNEYCTL_LONG=1 (more contacts and n).
`--dry-run`: print the block instead of writing it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "RELIABILITY.md"
TEST = "tests/e2e/test_crash_points.py"
BEGIN = "<!-- reliability_report.py: crash-sweep begin -->"
END = "<!-- reliability_report.py: crash-sweep end -->"
WINDOW_NOTE = "in the window"
INPUTS_BEGIN = "<!-- reliability_report.py: inputs begin -->"
INPUTS_END = "<!-- reliability_report.py: inputs end -->"


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def export_head(into: Path) -> Path:
    """HEAD as files (no .git): its engine runs as Python source (PYTHONPATH puts it first)."""
    archive = into / "head.tar"
    subprocess.run(
        ["git", "archive", "--format=tar", "-o", str(archive), "HEAD"], cwd=ROOT, check=True
    )
    tree = into / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def sweep(where: Path, long: bool) -> tuple[dict[str, Any], float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "summary.json"
        env = {**os.environ, "JOURNEYCTL_SWEEP_SUMMARY": str(out), "PYTHONPATH": str(where)}
        env.pop("JOURNEYCTL_FAULT", None)
        env.pop("JOURNEYCTL_FAULT_TRACE", None)
        if long:
            env["JOURNEYCTL_LONG"] = "1"
        else:
            env.pop("JOURNEYCTL_LONG", None)
        t0 = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TEST],
            cwd=where, env=env, check=False,
        )  # fmt: skip
        took = time.monotonic() - t0
        if proc.returncode != 0 or not out.exists():
            raise SystemExit(f"the sweep failed (pytest exit {proc.returncode}): nothing written")
        return json.loads(out.read_text(encoding="utf-8")), took


def inputs(where: Path, long: bool) -> dict[str, Any]:
    """Run the hostile corpus and the fuzz suite; their counts (SystemExit if any fails)."""
    import xml.etree.ElementTree as ET

    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "junit.xml"
        env = {**os.environ, "PYTHONPATH": str(where)}
        env.pop("JOURNEYCTL_FUZZ_EXAMPLES", None)
        if long:
            env["JOURNEYCTL_FUZZ"] = "long"
        else:
            env.pop("JOURNEYCTL_FUZZ", None)
        t0 = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "--hypothesis-show-statistics", f"--junitxml={xml}", "tests/hostile", "tests/fuzz"],
            cwd=where, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        took = time.monotonic() - t0
        if proc.returncode != 0 or not xml.exists():
            print(proc.stdout[-3000:])
            raise SystemExit(f"hostile/fuzz run failed (pytest exit {proc.returncode})")
        cases = ET.parse(xml).getroot().iter("testcase")
        by_folder: dict[str, int] = {}
        for case in cases:
            folder = (case.get("classname") or "").split(".")[1:2]
            by_folder[folder[0] if folder else "?"] = (
                by_folder.get(folder[0] if folder else "?", 0) + 1
            )
    examples = sum(int(n) for n in re.findall(r"(\d+) passing(?: examples|,)", proc.stdout))
    corpus = [
        p for p in (where / "tests" / "fuzz" / "corpus").rglob("*")
        if p.is_file() and "pending" not in p.parts and p.name != "README.md"
    ]  # fmt: skip
    goldens = list((where / "tests" / "cases" / "validate").iterdir())
    return {
        "hostile": by_folder.get("hostile", 0),
        "fuzz_tests": by_folder.get("fuzz", 0),
        "examples": examples,
        "corpus": len(corpus),
        "goldens": len(goldens),
        "took": took,
    }


def inputs_block(when: datetime, found: dict[str, Any], commit: str, long: bool) -> str:
    return "\n".join(
        [
            INPUTS_BEGIN,
            "",
            f"Last run: {when:%Y-%m-%d %H:%M} UTC, commit `{commit}`, "
            f"{'long (JOURNEYCTL_FUZZ=long)' if long else 'CI'} profile, {found['took']:.0f} s. "
            "Written by `scripts/reliability_report.py`; do not edit by hand.",
            "",
            "| What | Count |",
            "|---|---:|",
            f"| hostile-input cases (`tests/hostile`), all passing | {found['hostile']} |",
            f"| fuzz tests (`tests/fuzz`: properties, corpus replays), all passing | "
            f"{found['fuzz_tests']} |",
            f"| examples hypothesis generated and passed | {found['examples']} |",
            f"| saved fuzz corpus files replayed | {found['corpus']} |",
            f"| golden `validate` cases (`tests/cases/validate`, run by the main suite) | "
            f"{found['goldens']} |",
            "",
            INPUTS_END,
        ]
    )


def points_in_order(where: Path) -> tuple[list[str], set[str]]:
    """The fault points in the order a run meets them, and the repeat window, read from the
    journeyctl/faults.py that was swept (so the table follows the code tested)."""
    source = (where / "journeyctl" / "faults.py").read_text(encoding="utf-8")
    body = re.search(r"POINTS = \((.*?)\)", source, re.S)
    window = re.search(r"REPEAT_WINDOW = frozenset\(\{(.*?)\}\)", source, re.S)
    assert body and window, "journeyctl/faults.py: POINTS or REPEAT_WINDOW not found"
    return re.findall(r'"([a-z-]+)"', body.group(1)), set(
        re.findall(r'"([a-z-]+)"', window.group(1))
    )


def block(
    when: datetime,
    summary: dict[str, Any],
    took: float,
    commit: str,
    long: bool,
    order: list[str],
    window: set[str],
) -> str:
    points, kinds = summary["points"], summary["kinds"]
    kills = sum(p["kills"] for p in points.values())
    repeats = sum(p["repeats"] for p in points.values())
    # kills in the window on the channels that may repeat (all but the file outbox)
    exposed = sum(k.get("window_kills", 0) for name, k in kinds.items() if name != "file")
    lines = [
        BEGIN,
        "",
        f"Last run: {when:%Y-%m-%d %H:%M} UTC, commit `{commit}`, "
        f"{'long (JOURNEYCTL_LONG=1)' if long else 'CI'} sweep, Python "
        f"{platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{took:.0f} s. Written by `scripts/reliability_report.py`{' --long' if long else ''}; "
        "do not edit by hand.",
        "",
        f"- {summary['cases']} cases, {summary['runs']} runs of `journeyctl run` in them (and "
        f"{summary.get('traced_runs', 0)} traced clean runs choosing n), "
        f"**{kills} kills** (SIGKILL at a fault point, every one landed), "
        f"{summary['messages']} messages per case ({summary['contacts']} contacts).",
        f"- **0 lost** in every case; `PRAGMA integrity_check` ok after all {summary['runs']} runs; "
        "nothing left `attempting`.",
        f"- **{repeats} repeats** in all, for {exposed} kills inside the window on SMTP and "
        "webhooks: each the message in flight at such a kill, one at most per kill, reported "
        f"as `recovered` by the next run; {kinds.get('file', {}).get('repeats', 0)} for the "
        "file outbox.",
        "",
        "| Point | Kills | Cases ending there | Repeats in those cases | Runs |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in order:
        p = points.get(name, {"kills": 0, "cases": 0, "repeats": 0, "runs": 0})
        label = f"`{name}`" + (f" ({WINDOW_NOTE})" if name in window else "")
        lines.append(f"| {label} | {p['kills']} | {p['cases']} | {p['repeats']} | {p['runs']} |")
    lines += [
        "",
        "| Channel | Cases | Kills | Repeats | Runs |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in ("file", "webhook", "smtp"):
        k = kinds.get(name, {"kills": 0, "cases": 0, "repeats": 0, "runs": 0})
        lines.append(f"| {name} | {k['cases']} | {k['kills']} | {k['repeats']} | {k['runs']} |")
    lines += [
        "",
        "A `recover` case kills a run at `after-accept` first (so there is something to "
        "recover), then the recovering run at `recover`: both kills are counted at their "
        "points, its repeat (from the first kill) in the `recover` row.",
        "",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="JOURNEYCTL_LONG=1")
    parser.add_argument("--tree", action="store_true", help="sweep the working tree, not HEAD")
    parser.add_argument("--dry-run", action="store_true", help="print, do not write")
    parser.add_argument("--skip-sweep", action="store_true", help="only the inputs block")
    args = parser.parse_args()
    commit = git("rev-parse", "--short=12", "HEAD")
    with tempfile.TemporaryDirectory() as tmp:
        if args.tree:
            where = ROOT
            if git("status", "--porcelain", "--untracked-files=no"):
                commit += "+dirty"
        else:
            where = export_head(Path(tmp))
        order, window = points_in_order(where)
        found = inputs(where, args.long)
        summary, took = ({}, 0.0) if args.skip_sweep else sweep(where, args.long)
    when = datetime.now(UTC)  # noqa: TID251 - the report's own date, not journeyctl's clock
    blocks = [(INPUTS_BEGIN, INPUTS_END, inputs_block(when, found, commit, args.long))]
    if not args.skip_sweep:
        blocks.append((BEGIN, END, block(when, summary, took, commit, args.long, order, window)))
    if args.dry_run:
        print("\n\n".join(text for _, _, text in blocks))
        return
    doc = DOC.read_text(encoding="utf-8")
    for begin, end, text in blocks:
        if begin not in doc or end not in doc:
            raise SystemExit(f"{DOC}: the markers {begin!r} are missing")
        head, _, rest = doc.partition(begin)
        _, _, tail = rest.partition(end)
        doc = head + text + tail
    DOC.write_text(doc, encoding="utf-8")
    print(f"{DOC.relative_to(ROOT)}: figures of the {'long' if args.long else 'CI'} run written")


if __name__ == "__main__":
    main()
