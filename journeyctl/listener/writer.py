"""The listener's writes to the store: one connection on one thread, group commits.

Requests hand a job (a function of the store) to `Writer.submit` and wait for it. The writer
thread takes every job waiting (up to `batch`) into one `BEGIN IMMEDIATE` transaction, each
inside its own savepoint: a job that raises is rolled back alone (all-or-nothing per request)
while the others commit together. A request is answered only after its commit, so nothing
acknowledged is lost; under load one commit (one fsync) serves many requests.

Ticks (`run` from cron, or `serve`'s scheduler) write through their own connections; SQLite
WAL and the store's busy timeout serialise the two, and both keep their transactions short.
On PostgreSQL the same: one connection (BEGIN ... COMMIT, savepoints alike), row locks
instead of the database's write lock, and a connection the server dropped is opened again
for the next group (store/postgres/connection.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from journeyctl.store.open import open_store

if TYPE_CHECKING:
    from journeyctl.store.open import OpenStore

T = TypeVar("T")
Job = tuple[Callable[["OpenStore"], Any], "concurrent.futures.Future[Any]"]


class Writer:
    def __init__(self, db: str | Path, *, batch: int = 256) -> None:
        self.db = db
        self.batch = batch
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="journeyctl-writer", daemon=True)
        self._opened = concurrent.futures.Future[None]()
        self.commits = 0  # transactions committed (a group commit counts once)

    def start(self) -> None:
        """Open the store on the writer thread; raises what opening raised (bad path,
        damaged file) here, before the listener accepts anything."""
        self._thread.start()
        self._opened.result()

    async def submit(self, job: Callable[[OpenStore], T]) -> T:
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((job, fut))
        return await asyncio.wrap_future(fut)

    def call(self, job: Callable[[OpenStore], T]) -> T:
        """`submit` for a caller without an event loop (tests, benchmarks)."""
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((job, fut))
        return fut.result()

    def close(self) -> None:
        """Finish every job already submitted, then close the connection."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()

    def _run(self) -> None:
        try:
            store = open_store(self.db)
        except BaseException as exc:
            self._opened.set_exception(exc)
            return
        self._opened.set_result(None)
        try:
            stop = False
            while not stop:
                first = self._jobs.get()
                if first is None:
                    break
                jobs = [first]
                while len(jobs) < self.batch:
                    try:
                        nxt = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stop = True
                        break
                    jobs.append(nxt)
                self._commit(store, jobs)
        finally:
            store.close()

    def _commit(self, store: OpenStore, jobs: list[Job]) -> None:
        done: list[tuple[concurrent.futures.Future[Any], Any, BaseException | None]] = []
        try:
            with store.transaction():
                for job, fut in jobs:
                    if not fut.set_running_or_notify_cancel():
                        continue  # its request went away before it ran: nothing written
                    store.conn.execute("SAVEPOINT listener_job")
                    try:
                        value = job(store)
                    except Exception as exc:
                        store.conn.execute("ROLLBACK TO listener_job")
                        store.conn.execute("RELEASE listener_job")
                        done.append((fut, None, exc))
                    else:
                        store.conn.execute("RELEASE listener_job")
                        done.append((fut, value, None))
        except BaseException as exc:  # the commit itself failed: nothing of the group holds
            for _, fut in jobs:
                # ran (its result not yet given), or never started (BEGIN failed)
                if fut.running() or fut.set_running_or_notify_cancel():
                    fut.set_exception(exc)
            return
        self.commits += 1
        for fut, value, error in done:
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(value)
