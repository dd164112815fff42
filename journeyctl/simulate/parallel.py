"""`simulate` spread over forked worker processes: contacts are independent, so chunks of
them replay anywhere and the results merge in contact order (same result as one process).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from journeyctl import bulk
from journeyctl.engine.advance import Engine, by_contact
from journeyctl.engine.make import make_engine
from journeyctl.engine.model import Contact, Event
from journeyctl.simulate.replay import Simulation, simulate
from journeyctl.spec.project import Project

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess


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
    with bulk.paused():
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
