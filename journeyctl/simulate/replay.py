"""`simulate`: the engine `run` uses, stepped through simulated time one contact at a time.

Contacts are independent (caps, quiet hours and goals are per contact), so each contact is
replayed through the whole period on its own, jumping from one due time to the next, each
instant decided as a tick at that instant would (`Engine.replay`). `run` reaches the very
same `Engine.advance` through `run.tick` and the store; the run == simulate tests are
the proof. Forked workers: simulate.parallel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from journeyctl import bulk
from journeyctl.engine import wire
from journeyctl.engine.advance import Engine, by_contact
from journeyctl.engine.make import make_engine
from journeyctl.engine.model import Contact, Decision, Enrollment, Event, Message
from journeyctl.spec.project import Project

_BEFORE = timedelta(microseconds=1)


@dataclass
class Simulation:
    start: datetime
    end: datetime
    messages: list[Message] = field(default_factory=list)
    enrollments: list[Enrollment] = field(default_factory=list)
    zones: dict[str, str] = field(default_factory=dict)  # contact id -> zone used for output
    traces: dict[str, list[Decision]] = field(default_factory=dict)
    steps: int = 0  # engine steps taken (for benchmarks)

    # Workers send their part back pickled; the decisions as plain tuples (engine.wire).
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["wire"] = wire.pack(
            state.pop("messages"), state.pop("enrollments"), state.pop("zones")
        )
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["messages"], state["enrollments"], state["zones"] = wire.unpack(state.pop("wire"))
        self.__dict__.update(state)

    def merge(self, other: Simulation) -> None:
        self.messages.extend(other.messages)
        self.enrollments.extend(other.enrollments)
        self.zones.update(other.zones)
        self.traces.update(other.traces)
        self.steps += other.steps


def simulate(
    project: Project,
    contacts: Iterable[Contact],
    events: Iterable[Event] | Mapping[str, list[Event]],
    start: datetime,
    end: datetime,
    *,
    sequences: set[str] | None = None,
    engine: Engine | None = None,
    trace_contacts: set[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Simulation:
    """Dry-run the project over [start, end). Events before `start` are history.

    `events`: a list, or already grouped by contact id."""
    if sequences is not None:
        project = _only(project, sequences)
    engine = engine or make_engine(project)
    grouped = events if isinstance(events, Mapping) else by_contact(events)
    sim = Simulation(start, end)
    last = end - _BEFORE
    # What a month of a contact allocates is freed by reference counting, and what is kept
    # is acyclic: automatic collections re-walked the growing results (bulk.py).
    with bulk.paused():
        for n, contact in enumerate(contacts, 1):
            _replay(engine, sim, contact, grouped, start, last, trace_contacts)
            if n % 1000 == 0:
                bulk.collect_young()
                if progress is not None:
                    progress(n)
        bulk.collect_young()  # chunks of workers are often under 1,000 contacts
    sim.steps = engine.steps
    return sim


def _replay(
    engine: Engine,
    sim: Simulation,
    contact: Contact,
    by_contact: Mapping[str, list[Event]],
    start: datetime,
    last: datetime,
    trace_contacts: set[str] | None,
) -> None:
    """One contact through the whole period, its decisions added to `sim`."""
    trace = trace_contacts is not None and contact.id in trace_contacts
    kept, state = engine.replay_contact(contact, by_contact.get(contact.id, ()), start, last, trace)
    sim.messages += kept
    sim.enrollments += state.enrollments
    sim.zones[contact.id] = engine.zone_of(state).key
    if state.trace is not None:
        sim.traces[contact.id] = state.trace


def _only(project: Project, keep: set[str]) -> Project:
    from dataclasses import replace

    return replace(project, sequences={k: v for k, v in project.sequences.items() if k in keep})
