"""The runs and meta tables, and what replaces SQLite's run lock: each run's session holds a
PostgreSQL advisory lock keyed by its runs.id for as long as it lives.

The server drops a session's advisory locks when the session ends, however it ends (the
worker killed with -9, its host gone, the server restarted), as the kernel drops a dead
process's flock. So any worker, on any host, tells whether the run that claimed a contact
or a delivery is alive by asking whether its lock is held (DEAD_CLAIMER): a dead run's
claims are taken over at once, not after their lease.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import psycopg

from journeyctl.store.lock import HeldLock
from journeyctl.store.postgres.connection import RUN_LOCK, Connection
from journeyctl.store.serialize import to_micros
from journeyctl.store.sqlite_idle import RUN_COUNTS, RUN_FINISHED, RUN_STARTED

# SQL true when the run `{col}` names (a runs.id) holds no advisory lock in this database:
# its session is gone. Anonymous claims (negative ids, claimed outside a run) are never
# told dead this way; their lease ends them.
DEAD_CLAIMER = (
    "({col} > 0 AND NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
    f"AND classid = {RUN_LOCK} AND objid::bigint = {{col}} AND objsubid = 2 AND granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())))"
)

_HOLDER = ("pid", "host")
_BEGIN_RUN = (
    f"INSERT INTO runs({', '.join(RUN_STARTED + _HOLDER)}) "
    f"VALUES ({', '.join(['%s'] * len(RUN_STARTED + _HOLDER))}) RETURNING id"
)
_FINISH_RUN = f"UPDATE runs SET {', '.join(f'{c} = %s' for c in RUN_FINISHED)} WHERE id = %s"


def hold_run_lock(conn: psycopg.Connection[Any], run_id: int) -> None:
    """This session holds the run's liveness lock until it ends or the run finishes."""
    conn.execute("SELECT pg_advisory_lock(%s, %s)", (RUN_LOCK, run_id))


class Runs(Connection):
    def run_lock(self) -> Any:
        """No file lock on a server: several runs share the database, each claiming its own
        work (nothing held; `exclusive` recovery is never assumed)."""
        import contextlib

        return contextlib.nullcontext(None)

    def begin_run(
        self,
        started_at: datetime,
        now: datetime,
        *,
        dry_run: bool = False,
        lock: HeldLock | None = None,
    ) -> int:
        """Record a run and hold its liveness lock; this connection's claims belong to it
        until `finish_run`."""
        row = self.raw.execute(
            _BEGIN_RUN,
            (to_micros(started_at), to_micros(now), int(dry_run), os.getpid(),
             os.uname().nodename),
        ).fetchone()  # fmt: skip
        assert row is not None
        self._run_id = int(row[0])
        if not self.in_transaction:  # a dry run's row is rolled back: nothing to hold
            hold_run_lock(self.raw, self._run_id)
        return self._run_id

    def finish_run(
        self,
        run_id: int,
        finished_at: datetime,
        counts: dict[str, int],
        exit_code: int,
        error: str | None = None,
    ) -> None:
        self._reconnect_if_broken()
        self.raw.execute(
            _FINISH_RUN,
            (to_micros(finished_at), exit_code, error, *(counts.get(c, 0) for c in RUN_COUNTS),
             run_id),
        )  # fmt: skip
        if run_id == self._run_id:
            self._run_id = None
            if not self.in_transaction:
                self.raw.execute("SELECT pg_advisory_unlock(%s, %s)", (RUN_LOCK, run_id))

    def set_meta(self, name: str, value: str) -> None:
        self._reconnect_if_broken()
        self.raw.execute(
            "INSERT INTO meta(name, value) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def get_meta(self, name: str) -> str | None:
        self._reconnect_if_broken()
        row = self.raw.execute("SELECT value FROM meta WHERE name = %s", (name,)).fetchone()
        return None if row is None else str(row[0])
