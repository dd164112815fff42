"""Contact/event reader throughput against the bare csv.reader floor, in the same run.

    python bench/bench_readers.py            # 100k and 1M contacts, 1M events
    python bench/bench_readers.py 20000      # custom sizes

Prints a Markdown table (rows/s, best of 3) to append to bench/RESULTS.md under `## Readers`.
"""

from __future__ import annotations

import csv
import platform
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from journeyctl.data.contacts import iter_contacts, read_contacts
from journeyctl.data.events import read_events
from journeyctl.spec.models import ProjectSettings

SETTINGS = ProjectSettings(
    timezone="Asia/Seoul",
    contacts={  # type: ignore[arg-type]
        "fields": {"signup_at": "datetime", "birthday": "date", "orders": "int", "vip": "bool"}
    },
)
NAMES = ["김민준", "이서연", "박지호", "최하은", "Alex Kim", "정우진"]
ZONES = ["Asia/Seoul", "", "America/New_York", "Europe/Berlin"]


def make_contacts(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("id,email,phone,name,timezone,signup_at,birthday,orders,vip,plan\r\n")
        w = csv.writer(f)
        for i in range(n):
            w.writerow(
                [
                    f"c{i}",
                    f"user{i}@example.com",
                    f"010-{i % 10000:04d}-{i % 7919:04d}",
                    NAMES[i % len(NAMES)],
                    ZONES[i % len(ZONES)],
                    f"2025-{i % 12 + 1:02d}-{i % 28 + 1:02d}T{i % 24:02d}:15:00+09:00",
                    f"19{50 + i % 50}-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
                    str(i % 40),
                    "yes" if i % 3 else "no",
                    ("free", "pro", "team")[i % 3],
                ]
            )


def make_events(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["contact_id", "event", "at", "amount", "step"])
        for i in range(n):
            w.writerow(
                [
                    f"c{i % 100000}",
                    ("purchased", "opened", "clicked")[i % 3],
                    f"2026-01-{i % 28 + 1:02d} {i % 24:02d}:{i % 60:02d}",
                    str(i % 50000) if i % 3 == 0 else "",
                    "hello" if i % 3 else "",
                ]
            )


def floor(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def best_rate(n: int, fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def peak_mib(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main(sizes: list[int]) -> None:
    print(f"Python {platform.python_version()} on {platform.machine()}, best of 3\n")
    print("| input | rows | csv.reader floor | reader | reader / floor |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            contacts = Path(tmp) / f"contacts-{n}.csv"
            make_contacts(contacts, n)
            f = best_rate(n, lambda p=contacts: floor(p))
            r = best_rate(n, lambda p=contacts: read_contacts(p, SETTINGS))
            print(
                f"| contacts.csv (10 cols, 4 typed) | {n:,} | {f:,.0f}/s | {r:,.0f}/s | {r / f:.0%} |"
            )
        n = max(sizes)
        events = Path(tmp) / "events.csv"
        make_events(events, n)
        f = best_rate(n, lambda: floor(events))
        r = best_rate(n, lambda: read_events(events, SETTINGS))
        print(f"| events.csv (5 cols) | {n:,} | {f:,.0f}/s | {r:,.0f}/s | {r / f:.0%} |")

        # Streaming: iter_contacts keeps nothing, so its peak must not grow with the file.
        n = min(sizes)
        small = Path(tmp) / f"contacts-{n}.csv"
        big = Path(tmp) / "contacts-4x.csv"
        make_contacts(big, 4 * n)

        def drain(p: Path) -> None:
            for _ in iter_contacts(p, SETTINGS):
                pass

        print(
            f"\nPeak traced memory of iter_contacts: {peak_mib(lambda: drain(small)):.1f} MiB at "
            f"{n:,} rows, {peak_mib(lambda: drain(big)):.1f} MiB at {4 * n:,} rows "
            "(ids kept for the duplicate check are the only growth)."
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
