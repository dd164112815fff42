"""`simulate`: the engine `run` uses, stepped through simulated time one contact at a time.

Contacts are independent (caps, quiet hours and goals are per contact), so each contact is
replayed through the whole period on its own, jumping from one due time to the next, each
instant decided as a tick at that instant would (`Engine.replay`). `run` reaches the very
same `Engine.advance` through `runtime.tick` and the store; the run == simulate tests are
the proof.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from journeyctl import collector
from journeyctl.engine import wire
from journeyctl.engine.advance import Assumptions, Engine, by_contact
from journeyctl.engine.model import Contact, Decision, Enrollment, Event, Message
from journeyctl.engine.render import Renderer
from journeyctl.spec.project import Project

if TYPE_CHECKING:  # `run` imports this module for make_engine: no multiprocessing there
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

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


def make_engine(
    project: Project,
    *,
    render: bool = True,
    subjects_only: bool = False,
    assumptions: Assumptions | None = None,
    env: Mapping[str, str] | None = None,
    delivering: bool | None = None,
) -> Engine:
    """The engine `run`, `serve` and `simulate` use. `env` resolves the unsubscribe secrets
    (`run` and `serve` pass the environment; without it tokens use an empty key).

    `delivering` (default: when `env` is given): the links will reach people, so a channel
    whose messages carry unsubscribe links must have a non-empty secret; UsageError (exit 2)
    otherwise, before anything is imported or claimed (spec.unsubscribe)."""
    renderer = None
    if render:
        from journeyctl.channels.registry import unsubscribe_keys

        keys = unsubscribe_keys(project.settings, env) if env is not None else {}
        if delivering is None:
            delivering = env is not None
        if delivering:
            from journeyctl.spec.unsubscribe import refuse_forgeable_links

            refuse_forgeable_links(project, keys)
        from journeyctl.listener.links import Links

        renderer = Renderer(
            project.templates_dir,
            project.settings,
            subjects_only=subjects_only,
            unsubscribe_keys=keys,
            links=Links.for_project(project.settings, keys),
        )
    return Engine(project, renderer=renderer, assumptions=assumptions)


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
    # is acyclic: automatic collections re-walked the growing results (collector.py).
    with collector.paused():
        for n, contact in enumerate(contacts, 1):
            _replay(engine, sim, contact, grouped, start, last, trace_contacts)
            if n % 1000 == 0:
                collector.collect_young()
                if progress is not None:
                    progress(n)
        collector.collect_young()  # chunks of workers are often under 1,000 contacts
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


@dataclass
class _Work:
    """What forked workers inherit (never pickled): the data, and the next chunk to take."""

    project: Project
    contacts: list[Contact]
    by_contact: dict[str, list[Event]]
    start: datetime
    end: datetime
    engine: Engine
    bounds: list[tuple[int, int]]
    taken: Any  # multiprocessing Value: index of the next chunk

    def take(self) -> int | None:
        with self.taken.get_lock():
            i = self.taken.value
            if i >= len(self.bounds):
                return None
            self.taken.value = i + 1
            return i

    def run(self, i: int) -> Simulation:
        lo, hi = self.bounds[i]
        self.engine.steps = 0  # each chunk reports its own steps
        return simulate(
            self.project, self.contacts[lo:hi], self.by_contact, self.start, self.end,
            engine=self.engine,
        )  # fmt: skip


_WORK: _Work | None = None
_PIPE_BYTES = 1 << 20  # Linux's default pipe-max-size


def _worker(conn: Connection) -> None:
    """A forked child: take chunks until none are left, send each result back."""
    assert _WORK is not None
    try:
        with collector.paused():  # sending pickles a chunk's results: thousands of tuples
            while (i := _WORK.take()) is not None:
                conn.send((i, _WORK.run(i)))
        conn.send(None)
    except BaseException as exc:  # the parent re-raises it; the child just ends
        conn.send((-1, f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _widen(conn: Connection) -> None:
    """A chunk's results (~250 KB) fit in the pipe: the child goes on to its next chunk while
    the parent finishes its own (on a 64 KB pipe, children spent a third of their time
    blocked in `send`). Linux only; elsewhere, or if refused, the pipe stays as it is."""
    try:
        import fcntl

        fcntl.fcntl(conn.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass


def simulate_parallel(
    project: Project,
    contacts: list[Contact],
    events: list[Event],
    start: datetime,
    end: datetime,
    *,
    workers: int = 2,
    engine: Engine | None = None,
    progress: Callable[[int], None] | None = None,
) -> Simulation:
    """`simulate` spread over `workers` processes, this one included (contacts are
    independent); same result. The parent takes chunks like its forked children do, so only
    the children's share is pickled back, and it is read between the parent's own chunks."""
    import multiprocessing as mp

    global _WORK
    engine = engine or make_engine(project)
    if workers <= 1 or len(contacts) < 2000 or "fork" not in mp.get_all_start_methods():
        return simulate(project, contacts, events, start, end, engine=engine, progress=progress)
    ctx = mp.get_context("fork")
    # Small enough that the workers end together (one chunk is the most either waits for);
    # a chunk costs one message back and a few hundred microseconds of packing.
    chunk = max(250, len(contacts) // (workers * 64))
    bounds = [(lo, min(lo + chunk, len(contacts))) for lo in range(0, len(contacts), chunk)]
    work = _WORK = _Work(
        project, contacts, by_contact(events), start, end, engine, bounds, ctx.Value("i", 0)
    )
    # Paused here too: the parent unpickles the children's results between its own chunks.
    with collector.paused():
        parts: dict[int, Simulation] = {}
        done = 0
        children: list[tuple[BaseProcess, Connection]] = []
        try:
            for _ in range(workers - 1):
                mine, theirs = ctx.Pipe(duplex=False)
                _widen(mine)
                # fork: children inherit the loaded project and data without pickling them
                child = ctx.Process(target=_worker, args=(theirs,), daemon=True)
                child.start()
                theirs.close()
                children.append((child, mine))
            running = [conn for _, conn in children]

            def collect(block: bool) -> None:
                nonlocal done
                for conn in list(running):
                    while block or conn.poll():
                        try:
                            got = conn.recv()
                        except EOFError:  # killed, or died without a word
                            raise RuntimeError(
                                "a simulate worker ended without its results"
                            ) from None
                        if got is None:
                            running.remove(conn)
                            break
                        i, part = got
                        if i < 0:
                            raise RuntimeError(f"simulate worker failed: {part}")
                        parts[i] = part
                        done += bounds[i][1] - bounds[i][0]
                        if progress is not None:
                            progress(done)

            while (i := work.take()) is not None:
                parts[i] = work.run(i)
                done += bounds[i][1] - bounds[i][0]
                if progress is not None:
                    progress(done)
                collect(block=False)
            collect(block=True)
        finally:
            _WORK = None
            for proc, conn in children:
                conn.close()
                proc.join(timeout=5)
                if proc.is_alive():
                    proc.terminate()
    sim = Simulation(start, end)
    for i in range(len(bounds)):  # in contact order, whoever ran each chunk
        sim.merge(parts[i])
    return sim


def _only(project: Project, keep: set[str]) -> Project:
    from dataclasses import replace

    return replace(project, sequences={k: v for k, v in project.sequences.items() if k in keep})
