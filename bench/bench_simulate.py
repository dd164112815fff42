"""Benchmark `simulate`: the stock library x 30 days over examples-like contacts, at 10k/100k/1M.

The example contacts and events are tiled (new ids, same attributes and event times), so the
event density is exactly that of examples/. Beside it, in the same run, the floor of STYLE/
performance.md 8.2: a bare per-contact loop advancing the same number of steps with aware
datetimes and appending each send to a list.

    python bench/bench_simulate.py 10000 100000 [--workers 2] [--jitter] [--profile]

The engine this python has installed is measured: compiled from a wheel (`make demo`'s
.venv-wheel/bin/python, or any `pip install .`), pure Python from the editable .venv; a python
without journeyctl installed runs the checkout's source.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import resource
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if importlib.util.find_spec("journeyctl") is None:  # not installed: the checkout's source
    sys.path.insert(0, str(ROOT))

from journeyctl.data.contacts import read_contacts  # noqa: E402
from journeyctl.data.events import read_events  # noqa: E402
from journeyctl.data.instants import parse_instant  # noqa: E402
from journeyctl.engine.advance import by_contact  # noqa: E402
from journeyctl.engine.make import make_engine  # noqa: E402
from journeyctl.engine.model import Contact, Event  # noqa: E402
from journeyctl.simulate.parallel import simulate_parallel  # noqa: E402
from journeyctl.spec import load_valid_project  # noqa: E402


def tiled(
    n: int, contacts: list[Contact], events: list[Event], jitter: bool = False
) -> tuple[list[Contact], list[Event]]:
    """`jitter`: every copy after the first is moved by its own random shift of up to ±3 days
    (events and date/time attributes alike), so no two copies share an instant: caches keyed
    by time get no free hits from the tiling; each copy's name is its own too (subjects that
    show the name are rendered per message, not memoized by the handful of example names)."""
    by = by_contact(events)
    rng = random.Random(7)
    out_c: list[Contact] = []
    out_e: list[Event] = []
    i = 0
    while len(out_c) < n:
        for c in contacts:
            if len(out_c) >= n:
                break
            cid = f"{c.id}-{i}"
            shift = timedelta(minutes=rng.randint(-3 * 1440, 3 * 1440)) if jitter and i else None
            if shift is None:
                out_c.append(replace(c, id=cid))
                out_e.extend(replace(e, contact_id=cid) for e in by.get(c.id, ()))
                continue
            attrs = {k: _shifted(v, shift) for k, v in c.attrs.items()}
            # Names too are the copy's own: subjects that show the name render for each.
            name = f"{c.name}{i}" if c.name else c.name
            out_c.append(replace(c, id=cid, name=name, attrs=attrs))
            out_e.extend(replace(e, contact_id=cid, at=e.at + shift) for e in by.get(c.id, ()))
        i += 1
    return out_c, out_e


def _shifted(value: object, shift: timedelta) -> object:
    if isinstance(value, datetime):
        return value + shift
    if isinstance(value, date):
        return value + timedelta(days=round(shift / timedelta(days=1)))
    return value


def floor(n_contacts: int, steps_per_contact: int) -> float:
    """Steps per second of a bare per-contact loop (performance.md 8.2)."""
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    two_days = timedelta(days=2)
    outbox: list[tuple[int, datetime]] = []
    start = time.perf_counter()
    for c in range(n_contacts):
        t = t0
        for s in range(steps_per_contact):
            if s % 2 == 0:
                outbox.append((c, t))
            else:
                t = t + two_days
    return n_contacts * steps_per_contact / (time.perf_counter() - start)


def fresh_floor(n_contacts: int, steps_per_contact: int) -> float:
    """`floor` in a new interpreter (best of 3), for the steps per contact measured."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from bench_simulate import floor; "
        "print(max(floor(int(sys.argv[2]), int(sys.argv[3])) for _ in range(3)))"
    )
    argv = [str(Path(__file__).parent), str(min(n_contacts, 200_000)), str(steps_per_contact)]
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True)
    return float(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--jitter", action="store_true", help="shift each copy in time (see tiled)")
    args = ap.parse_args()
    project = load_valid_project(ROOT / "sequences")
    contacts = read_contacts(ROOT / "examples/contacts.csv", project.settings).items
    events = read_events(ROOT / "examples/events.csv", project.settings).items
    start = parse_instant("2026-11-01", project.settings.timezone)
    end = start + timedelta(days=30)
    import journeyctl.engine

    print(f"engine: {'compiled (mypyc)' if journeyctl.engine.NATIVE else 'pure Python'}")
    print(
        "| contacts | workers | wall s | contacts/s | messages | engine steps | steps/s | floor steps/s | ratio | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        cs, es = tiled(n, contacts, events, jitter=args.jitter)
        # The floor in fresh processes just before and after the run: this host's speed drifts
        # by up to 2x within minutes, and in this process the simulation's heap would slow it.
        before = fresh_floor(n, 10)  # ~10 steps per contact in the stock library
        t0 = time.perf_counter()
        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
        sim = simulate_parallel(project, cs, es, start, end, workers=args.workers,
                                engine=make_engine(project, subjects_only=True))  # fmt: skip
        wall = time.perf_counter() - t0
        if args.profile:
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(20)
        steps = sim.steps
        per_contact = max(1, steps // max(1, n))
        fl = (before + fresh_floor(n, per_contact)) / 2
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(
            f"| {n:,} | {args.workers} | {wall:.2f} | {n / wall:,.0f} | {len(sim.messages):,} | "
            f"{steps:,} | {steps / wall:,.0f} | {fl:,.0f} | {steps / wall / fl:.1%} | "
            f"{max(rss, rss_children):,.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
