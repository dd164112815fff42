"""`simulate_parallel` (forked workers, what the CLI uses) gives exactly `simulate`'s result."""

from __future__ import annotations

import gc
import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from journeyctl.data.contacts import read_contacts
from journeyctl.data.events import read_events
from journeyctl.data.instants import parse_instant
from journeyctl.engine.make import make_engine
from journeyctl.simulate import parallel as simulate_module
from journeyctl.simulate.parallel import simulate_parallel
from journeyctl.simulate.replay import simulate
from journeyctl.spec import load_valid_project

ROOT = Path(__file__).resolve().parents[2]


def test_forked_workers_agree_with_one_process() -> None:
    project = load_valid_project(ROOT / "sequences")
    base = read_contacts(ROOT / "examples/contacts.csv", project.settings).items
    base_events = read_events(ROOT / "examples/events.csv", project.settings).items
    # 7 copies of the examples under new ids: above the 2,000 contacts that start workers
    contacts = [replace(c, id=f"{c.id}-{i}") for i in range(7) for c in base]
    events = [replace(e, contact_id=f"{e.contact_id}-{i}") for i in range(7) for e in base_events]
    assert len(contacts) >= 2000
    start = parse_instant("2026-11-01", project.settings.timezone)
    end = start + timedelta(days=30)

    one = simulate(project, contacts, events, start, end, engine=make_engine(project))
    seen: list[int] = []
    two = simulate_parallel(
        project, contacts, events, start, end, workers=2, engine=make_engine(project),
        progress=seen.append,
    )  # fmt: skip

    def key(sim: object) -> tuple[object, ...]:
        msgs = sorted(
            (m.key, m.contact_id, m.step, m.at, m.status, m.reason, m.subject)
            for m in sim.messages  # type: ignore[attr-defined]
        )
        enrs = sorted((e.id, e.outcome, e.position, e.ended_at) for e in sim.enrollments)  # type: ignore[attr-defined]
        return (msgs, enrs, sim.zones, sim.steps)  # type: ignore[attr-defined]

    assert key(two) == key(one)
    assert gc.isenabled()  # the collector paused for the run is back on
    assert len(one.messages) > 5000
    assert seen and seen[-1] == len(contacts)  # progress reached every contact


def test_a_failing_worker_fails_the_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    # A chunk that breaks in a forked child must surface in the parent, not hang or vanish.
    project = load_valid_project(ROOT / "sequences")
    base = read_contacts(ROOT / "examples/contacts.csv", project.settings).items
    contacts = [replace(c, id=f"{c.id}-{i}") for i in range(8) for c in base]
    start = parse_instant("2026-11-01", project.settings.timezone)
    parent = os.getpid()
    real_run = simulate_module._Work.run

    def run(self: object, i: int) -> object:
        if os.getpid() != parent:
            raise ValueError("broken in a child")
        return real_run(self, i)  # type: ignore[arg-type]

    monkeypatch.setattr(simulate_module._Work, "run", run)
    with pytest.raises(RuntimeError, match="broken in a child"):
        simulate_parallel(project, contacts, [], start, start + timedelta(days=3), workers=2)
    assert gc.isenabled()
