"""Contact/event reader throughput against the bare csv.reader floor, in the same run.

    python bench/bench_readers.py            # 100k and 1M contacts, 1M events
    python bench/bench_readers.py 20000      # custom sizes
    python bench/bench_readers.py --simulate-input DIR [--project sequences] [--reps 3]

Prints a Markdown table (rows per CPU second, best of 3) to append to bench/RESULTS.md under `## Readers`.
`--simulate-input` times what `simulate` does before simulating (cli/simulate.py
`_read_inputs`): DIR's contacts.csv then events.csv read with the project's settings into a
Partition (bench_commands.tile makes such a DIR), wall and CPU seconds per file, and rows/s.
Run it with the venv whose install is to be measured (the compiled wheel's python, or the
editable .venv's).
"""

from __future__ import annotations

import csv
import inspect
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
    """Rows per CPU second of this process, best of `repeat`: on a shared machine the wall
    time says more about the neighbours than about the reader."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return n / best


def peak_mib(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def simulate_input(data: Path, project_dir: Path, reps: int) -> None:
    """The reading phase of `simulate`: each file into a Partition, `reps` times."""
    import journeyctl.data.contacts as contacts_module
    from journeyctl.cli.loading import (
        load_project_or_fail,
        read_contacts_input,
        read_events_input,
    )
    from journeyctl.simulate.partition import Partition

    compiled = not contacts_module.__file__.endswith(".py")
    print(f"Python {platform.python_version()}, readers {'compiled' if compiled else 'pure'}")
    print("| run | contacts wall / CPU | contacts/s (CPU) | events wall / CPU | events/s (CPU) |")
    print("|---|---|---|---|---|")
    project = load_project_or_fail(project_dir)
    # As cli/simulate.py `_read_inputs` calls them; an install from before the row readers
    # (a baseline) takes the Contact and Event objects.
    rows = "rows" in inspect.signature(read_contacts_input).parameters
    for rep in range(1, reps + 1):
        part = Partition()
        try:
            to_contacts = {"rows": part.add_contact_row} if rows else {"each": part.add_contact}
            to_events = {"rows": part.add_event_row} if rows else {"each": part.add_event}
            t0, c0 = time.perf_counter(), time.process_time()
            read_contacts_input(project, data / "contacts.csv", None, **to_contacts)
            t1, c1 = time.perf_counter(), time.process_time()
            read_events_input(project, data / "events.csv", None, **to_events)
            part.seal()
            t2, c2 = time.perf_counter(), time.process_time()
        finally:
            part.close()
        print(
            f"| {rep} | {t1 - t0:.2f} s / {c1 - c0:.2f} s | {part.contacts / (c1 - c0):,.0f}/s"
            f" | {t2 - t1:.2f} s / {c2 - c1:.2f} s | {part.events / (c2 - c1):,.0f}/s |",
            flush=True,
        )


def main(sizes: list[int]) -> None:
    print(
        f"Python {platform.python_version()} on {platform.machine()}, rows per CPU second, best of 3\n"
    )
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
    if sys.argv[1:2] == ["--simulate-input"]:
        import argparse

        ap = argparse.ArgumentParser()
        ap.add_argument("--simulate-input", type=Path, required=True)
        ap.add_argument("--project", type=Path, default=Path("sequences"))
        ap.add_argument("--reps", type=int, default=3)
        args = ap.parse_args()
        simulate_input(args.simulate_input, args.project, args.reps)
    else:
        main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
