"""The runs table: each run's row, and telling whether a run that claimed deliveries is dead."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from datetime import datetime

from journeyctl.store.lock import HeldLock, probe, run_lock
from journeyctl.store.serialize import to_micros
from journeyctl.store.sqlite.connection import Connection
from journeyctl.store.sqlite_idle import RUN_COUNTS, RUN_FINISHED, RUN_STARTED

# Who holds the run: how other runs tell whether it is alive (dead_runs).
_HOLDER = ("pid", "host", "lock_path", "lock_id")
_BEGIN_RUN = (
    f"INSERT INTO runs({', '.join(RUN_STARTED + _HOLDER)}) "
    f"VALUES ({', '.join('?' * len(RUN_STARTED + _HOLDER))})"
)
_FINISH_RUN = f"UPDATE runs SET {', '.join(f'{c} = ?' for c in RUN_FINISHED)} WHERE id = ?"


class Runs(Connection):
    def run_lock(self) -> contextlib.AbstractContextManager[HeldLock | None]:
        """The run lock on this database's file (store/lock.py): LockHeld at once if another
        run holds it; a run that holds it recovers every orphaned delivery (`exclusive`)."""
        return run_lock(self.path)

    def begin_run(
        self,
        started_at: datetime,
        now: datetime,
        *,
        dry_run: bool = False,
        lock: HeldLock | None = None,
    ) -> int:
        """Record a run; this connection's claims belong to it until `finish_run`. `lock`: the
        run lock it holds, recorded so other runs can tell whether it is alive."""
        cur = self.conn.execute(
            _BEGIN_RUN,
            (
                to_micros(started_at),
                to_micros(now),
                int(dry_run),
                os.getpid(),
                os.uname().nodename,
                None if lock is None else lock.path,
                None if lock is None else lock.identity,
            ),
        )
        self._run_id, self._lock = int(cur.lastrowid or 0), lock
        return self._run_id

    def finish_run(
        self,
        run_id: int,
        finished_at: datetime,
        counts: dict[str, int],
        exit_code: int,
        error: str | None = None,
    ) -> None:
        if run_id == self._run_id:
            self._run_id = self._lock = None
        self.conn.execute(
            _FINISH_RUN,
            (
                to_micros(finished_at),
                exit_code,
                error,
                *(counts.get(c, 0) for c in RUN_COUNTS),
                run_id,
            ),
        )


def dead_runs(
    conn: sqlite3.Connection, run_ids: set[int], this_run: int | None, held: HeldLock | None
) -> dict[int, bool | None]:
    """For each run: True when it is known to be dead, False when known to be alive, None
    when that cannot be told. A run that finished is dead; one that holds no run lock any
    more is dead (the kernel drops a dead process's flock); so is one that held the lock
    this connection's run (`this_run`) holds now (`held`). A run elsewhere (another host
    sharing the file) or whose lock file is gone is told by its process id at most
    (docs/DECISIONS.md)."""
    out: dict[int, bool | None] = dict.fromkeys(run_ids)
    if not run_ids:
        return out
    host = os.uname().nodename
    marks = ",".join("?" * len(run_ids))
    for run_id, finished, pid, where, path, ident in conn.execute(
        f"SELECT id, finished_at, pid, host, lock_path, lock_id FROM runs WHERE id IN ({marks})",
        tuple(run_ids),
    ):
        if run_id == this_run:
            out[run_id] = False  # this very run
        elif finished is not None:
            out[run_id] = True
        elif held is not None and ident == held.identity:
            out[run_id] = True  # we hold the lock it held: its process is gone
        elif where == host and path and ident:
            holding = probe(path, ident)
            out[run_id] = (not holding) if holding is not None else _pid_dead(pid)
    return out


def _pid_dead(pid: int | None) -> bool | None:
    """A process id on this host: True when no such process exists; None otherwise (it may be
    the run, or another process that reused the id)."""
    if pid is None or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return None
    return None
