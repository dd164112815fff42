"""`simulate` spread over forked worker processes: contacts are independent, so chunks of
them replay anywhere and the results are taken in contact order (same result as one process).
`run_chunks` hands each chunk's result on as soon as its turn comes (the CLI streams them);
`simulate_parallel` merges them into one Simulation (tests, benchmarks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from journeyctl import bulk
from journeyctl.engine.advance import Engine, by_contact
from journeyctl.engine.make import make_engine
from journeyctl.engine.model import Contact, Event
from journeyctl.simulate.replay import Simulation, simulate
from journeyctl.spec.project import Project

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

R = TypeVar("R")


class Chunks(Protocol):
    """Where a chunk's contacts and their grouped events come from (a list in memory, or the
    on-disk partition of simulate.partition), loadable in any forked worker."""

    def load(self, i: int) -> tuple[list[Contact], Mapping[str, list[Event]]]: ...


@dataclass
class _Slices:
    """Chunks of contacts already in memory."""

    contacts: list[Contact]
    grouped: dict[str, list[Event]]
    bounds: list[tuple[int, int]]

    def load(self, i: int) -> tuple[list[Contact], Mapping[str, list[Event]]]:
        lo, hi = self.bounds[i]
        return self.contacts[lo:hi], self.grouped


@dataclass
class _Work:
    """What forked workers inherit (never pickled): the data, and the next chunk to take."""

    project: Project
    source: Chunks
    start: datetime
    end: datetime
    engine: Engine
    chunks: int
    taken: Any  # multiprocessing Value: index of the next chunk
    finish: Callable[[int, Simulation], Any]  # a chunk's Simulation -> what is sent back

    def take(self) -> int | None:
        with self.taken.get_lock():
            i = self.taken.value
            if i >= self.chunks:
                return None
            self.taken.value = i + 1
            return i

    def run(self, i: int) -> Any:
        contacts, grouped = self.source.load(i)
        self.engine.steps = 0  # each chunk reports its own steps
        sim = simulate(self.project, contacts, grouped, self.start, self.end, engine=self.engine)
        return self.finish(i, sim)


_WORK: _Work | None = None
_PIPE_BYTES = 1 << 20  # Linux's default pipe-max-size


def _worker(conn: Connection) -> None:
    """A forked child: take chunks until none are left, send each result back."""
    assert _WORK is not None
    try:
        with bulk.paused():  # sending pickles a chunk's results: thousands of tuples
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
    independent); same result, merged in contact order."""
    engine = engine or make_engine(project)
    if workers <= 1 or len(contacts) < MIN_PARALLEL or not _can_fork():
        return simulate(project, contacts, events, start, end, engine=engine, progress=progress)
    # Small enough that the workers end together (one chunk is the most either waits for);
    # a chunk costs one message back and a few hundred microseconds of packing.
    chunk = max(250, len(contacts) // (workers * 64))
    bounds = [(lo, min(lo + chunk, len(contacts))) for lo in range(0, len(contacts), chunk)]
    sim = Simulation(start, end)
    run_chunks(
        project, _Slices(contacts, by_contact(events), bounds), [hi - lo for lo, hi in bounds],
        start, end, engine=engine, finish=lambda i, part: part,
        on_result=lambda i, part: sim.merge(part), workers=workers, progress=progress,
    )  # fmt: skip
    return sim


MIN_PARALLEL = 2000  # contacts under which forking costs more than it saves


def _can_fork() -> bool:
    import multiprocessing as mp

    return "fork" in mp.get_all_start_methods()


def run_chunks(
    project: Project,
    source: Chunks,
    sizes: list[int],
    start: datetime,
    end: datetime,
    *,
    engine: Engine,
    finish: Callable[[int, Simulation], R],
    on_result: Callable[[int, R], None],
    workers: int = 2,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Simulate every chunk of `source` (`sizes`: contacts per chunk), `finish` turning each
    chunk's Simulation into what is kept of it (in the worker that ran it), and `on_result`
    receiving those in chunk order, as soon as every earlier chunk has been received: the
    caller consumes results while the rest is simulated, and never holds more than the
    chunks that arrived early.

    Over `workers` processes, this one included, when there is enough work and fork exists.
    The parent takes chunks like its forked children do, so only the children's share is
    pickled back, and it is read between the parent's own chunks."""
    import multiprocessing as mp

    global _WORK
    total = sum(sizes)
    parallel = workers > 1 and total >= MIN_PARALLEL and _can_fork()
    ctx = mp.get_context("fork") if parallel else None
    taken = ctx.Value("i", 0) if ctx is not None else _Counter()
    work = _Work(project, source, start, end, engine, len(sizes), taken, finish)
    parts: dict[int, Any] = {}
    state = {"next": 0, "done": 0}

    def received(i: int, part: Any) -> None:
        parts[i] = part
        state["done"] += sizes[i]
        while state["next"] in parts:
            at = state["next"]
            on_result(at, parts.pop(at))
            state["next"] = at + 1
        if progress is not None:
            progress(state["done"])

    if ctx is None:
        # What a month of contacts allocates is freed by reference counting (simulate.replay)
        with bulk.paused():
            while (i := work.take()) is not None:
                received(i, work.run(i))
        return
    _WORK = work
    # Paused here too: the parent unpickles the children's results between its own chunks.
    with bulk.paused():
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
                        received(i, part)

            while (i := work.take()) is not None:
                received(i, work.run(i))
                collect(block=False)
            collect(block=True)
        finally:
            _WORK = None
            for proc, conn in children:
                conn.close()
                proc.join(timeout=5)
                if proc.is_alive():
                    proc.terminate()


class _Counter:
    """The chunk counter of a run without workers (a multiprocessing Value's interface)."""

    def __init__(self) -> None:
        self.value = 0

    def get_lock(self) -> AbstractContextManager[Any]:
        return nullcontext()
