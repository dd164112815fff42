"""Benchmark issue 14's hostile-file goal: `journeyctl validate` of a project holding a YAML
alias bomb (a billion laughs, 9**10 values from under 1 KB) answers in ≤ 1 s.

Times the command as a user runs it (a subprocess: interpreter start, imports, loading,
output), median of N runs, beside the floor measured in the same run: `journeyctl --version`
(the same start-up with nothing loaded) and the same project without the bomb.

    python bench/bench_hostile.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BOMB = "\n".join(
    [
        'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)),
    ]
)
SEQUENCE = """sequence: welcome
trigger: {event: subscribed}
steps:
  - send: hello
    subject: hi
    body: hello
"""


def timed(cmd: list[str], runs: int) -> tuple[float, int]:
    times, code = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        code = subprocess.run(cmd, capture_output=True, check=False).returncode
        times.append(time.perf_counter() - t0)
    return statistics.median(times), code


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    exe = [sys.executable, "-m", "journeyctl"]
    with tempfile.TemporaryDirectory() as tmp:
        plain, bomb = Path(tmp, "plain"), Path(tmp, "bomb")
        for root, extra in ((plain, ""), (bomb, BOMB + "\n")):
            root.mkdir()
            (root / "journey.yaml").write_text("timezone: Asia/Seoul\n", encoding="utf-8")
            (root / "welcome.yaml").write_text(SEQUENCE + extra, encoding="utf-8")
        print(f"bomb file: {len((bomb / 'welcome.yaml').read_bytes())} bytes")
        rows = [
            ("`journeyctl --version` (start-up floor)", timed([*exe, "--version"], args.runs)),
            ("`validate` of the project without the bomb", timed([*exe, "validate", str(plain)], args.runs)),
            ("`validate` of the project with the alias bomb", timed([*exe, "validate", str(bomb)], args.runs)),
        ]  # fmt: skip
    print("| command | median wall | exit |")
    print("|---|---|---|")
    for name, (secs, code) in rows:
        print(f"| {name} | {secs * 1000:.0f} ms | {code} |")
    goal = rows[2][1][0] <= 1.0 and rows[2][1][1] == 1
    print(f"goal (alias bomb answered, exit 1, in ≤ 1 s): {'met' if goal else 'MISSED'}")


if __name__ == "__main__":
    main()
