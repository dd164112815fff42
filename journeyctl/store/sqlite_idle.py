"""The SQLite store's idle question, in a module cheap enough for every cron minute.

`SqliteStore` inherits `is_idle` from `IdleQueries`; the idle minute (journeyctl.run.idle)
asks the same question through `IdleDatabase`, which opens an existing, current database
without the full store's checks and migrations, and records the run in the same write
transaction. Stdlib only (no json, typing or the engine's model): every import here is paid
on every cron minute.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from journeyctl.store.micros import to_micros
from journeyctl.store.migrations import LATEST

# What run.tick asks, written once for the tick (store.sqlite) and the idle question here:
# the predicates of its three things (recover `attempting` rows, orphans or a live run's;
# advance due contacts; claim due deliveries), `?1` being the instant in microseconds.
INTERRUPTED = "state = 'attempting'"
DUE_CONTACT = "next_due IS NOT NULL AND next_due <= ?1"
DUE_DELIVERY = "state IN ('planned', 'retry') AND next_attempt_at <= ?1"
# The runs row: what begin_run records, what finish_run adds, and the counts of a run summary.
RUN_COUNTS = ("contacts", "decided", "skipped", "delivered", "retrying", "failed", "recovered")
RUN_STARTED = ("started_at", "now", "dry_run")
RUN_FINISHED = ("finished_at", "exit_code", "error", *RUN_COUNTS)

_INTERRUPTED = f"SELECT 1 FROM ledger WHERE {INTERRUPTED} LIMIT 1"
_DUE_CONTACT = f"SELECT 1 FROM contact_state WHERE {DUE_CONTACT} LIMIT 1"
_DUE_DELIVERY = f"SELECT 1 FROM ledger WHERE {DUE_DELIVERY} LIMIT 1"
# An empty tick's row: nothing counted, exit 0, no lock holder (the run is over).
_IDLE_RUN = (
    f"INSERT INTO runs({', '.join(RUN_STARTED + RUN_FINISHED)}) "
    f"VALUES (?, ?, 0, ?, 0, NULL{', 0' * len(RUN_COUNTS)})"
)


class NotIdle(Exception):
    """The idle database cannot answer for sure; the message says why."""


class IdleQueries:
    conn: sqlite3.Connection

    def is_idle(self, now: datetime) -> bool:
        """Whether a tick at `now` would do nothing: no interrupted delivery to recover, no
        contact due, no delivery due."""
        return self.why_busy(now) is None

    def why_busy(self, now: datetime) -> str | None:
        """What a tick at `now` would do first, or None when it would do nothing."""
        q = self.conn.execute
        now_us = to_micros(now)
        if q(_INTERRUPTED).fetchone():
            return "interrupted deliveries to recover"
        if q(_DUE_CONTACT, (now_us,)).fetchone():
            return "contacts are due"
        if q(_DUE_DELIVERY, (now_us,)).fetchone():
            return "deliveries are due"
        return None


class IdleDatabase(IdleQueries):
    """An existing database at the latest schema, already in WAL mode, opened read-write for
    the idle minute. Anything else (an older schema, another journal mode) is NotIdle, and a
    busy write lock an sqlite3.Error: the full store creates, checks, migrates and waits."""

    def __init__(self, db: str, busy_timeout_s: float) -> None:
        uri = "file:" + db.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
        try:
            self.conn = sqlite3.connect(
                uri + "?mode=rw", uri=True, timeout=busy_timeout_s, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise NotIdle(f"cannot open the database: {exc}") from None
        try:
            q = self.conn.execute
            if q("PRAGMA user_version").fetchone()[0] != LATEST:
                raise NotIdle("the database schema is not the latest")
            if q("PRAGMA journal_mode").fetchone()[0] != "wal":
                raise NotIdle("the database is not in WAL mode yet")
            q("PRAGMA synchronous = FULL")  # the runs row is committed as durably as a run's
        except BaseException:
            self.conn.close()
            raise

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (BEGIN IMMEDIATE), rolled back on any exception."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def meta(self, *names: str) -> dict[str, str]:
        """The meta rows of these names that exist."""
        marks = ", ".join("?" * len(names))
        rows = self.conn.execute(f"SELECT name, value FROM meta WHERE name IN ({marks})", names)
        return {str(name): str(value) for name, value in rows}

    def record_idle_run(self, started_at: datetime, now: datetime, finished_at: datetime) -> None:
        """The runs row of a tick that did nothing: the row SqliteStore.begin_run and
        finish_run leave for an empty tick, without the lock holder (the run is over)."""
        self.conn.execute(
            _IDLE_RUN, (to_micros(started_at), to_micros(now), to_micros(finished_at))
        )
