"""Instructions per contact of the engine's replay, counted by valgrind's callgrind.

This host's speed drifts by 1.5-2x within minutes, so wall time cannot tell a 3% change from
noise; instruction counts can (repeatable to ~0.2%). Warms the caches on N tiled contacts, then
counts only inside `Engine.replay_contact` for N other contacts (the count is zeroed at a
marker call, `zlib.crc32`, between the two).

    python bench/replay_instructions.py [N]        # runs itself under valgrind (~2 min for 2000)

Needs valgrind; measures the engine this python has installed (compiled from a wheel, e.g.
.venv-wheel/bin/python; pure Python from the editable .venv).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import zlib
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if importlib.util.find_spec("journeyctl") is None:  # not installed: the checkout's source
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))


def measured(n: int) -> None:
    """What runs under valgrind."""
    from bench_simulate import tiled

    from journeyctl.data.contacts import read_contacts
    from journeyctl.data.events import read_events
    from journeyctl.data.instants import parse_instant
    from journeyctl.engine.make import make_engine
    from journeyctl.simulate.replay import simulate
    from journeyctl.spec import load_valid_project

    project = load_valid_project(ROOT / "sequences")
    contacts = read_contacts(ROOT / "examples/contacts.csv", project.settings).items
    events = read_events(ROOT / "examples/events.csv", project.settings).items
    start = parse_instant("2026-11-01", project.settings.timezone)
    end = start + timedelta(days=30)
    cs, es = tiled(2 * n, contacts, events, jitter=True)
    engine = make_engine(project, subjects_only=True)
    simulate(project, cs[:n], es, start, end, engine=engine)  # warm the caches
    zlib.crc32(b"")  # the marker: counting starts here
    sim = simulate(project, cs[n:], es, start, end, engine=engine)
    print(f"measured {n} contacts, {len(sim.messages)} messages", flush=True)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    if os.environ.get("_REPLAY_UNDER_VALGRIND"):
        measured(n)
        return
    import journeyctl.engine

    engine = "compiled" if journeyctl.engine.NATIVE else "pure Python"
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                "valgrind", "--tool=callgrind", "--zero-before=zlib_crc32",
                "--toggle-collect=CPyPy_advance___Engine___replay_contact"
                if journeyctl.engine.NATIVE
                else "--toggle-collect=*",
                f"--callgrind-out-file={tmp}/out", sys.executable, __file__, str(n),
            ],
            env={**os.environ, "_REPLAY_UNDER_VALGRIND": "1"},
            capture_output=True,
            text=True,
        )  # fmt: skip
    refs = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if out.returncode != 0 or refs is None:
        sys.exit(f"valgrind failed:\n{out.stderr[-2000:]}")
    total = int(refs.group(1).replace(",", ""))
    print(out.stdout.strip())
    print(f"engine {engine}: {total / n:,.0f} instructions per contact ({total:,} for {n})")


if __name__ == "__main__":
    main()
