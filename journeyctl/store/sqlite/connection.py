"""Opening the database file, and the transactions every part of the store writes in.

Opening checks the file (`PRAGMA quick_check`), switches it to WAL with synchronous=FULL and
migrates it (store/migrations.py); failures are StoreErrors naming the file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from journeyctl.engine.model import Event
from journeyctl.errors import StoreError
from journeyctl.store.environment import damaged, database_problem
from journeyctl.store.lock import HeldLock
from journeyctl.store.migrations import migrate
from journeyctl.store.sqlite_idle import IdleQueries

BUSY_TIMEOUT_MS = 30_000


def _create_private(path: Path) -> None:
    """Create a missing database file readable by its owner only (0600): it holds contacts'
    addresses and what was sent to them. SQLite gives the -wal and -shm files the mode of the
    database file. An existing file keeps its mode (the owner chose it)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # a missing directory, a read-only one: sqlite3.connect says so (environment.py)
    os.close(fd)


def _check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    """`PRAGMA quick_check` when the store opens, unless a stamped open finds the file exactly
    as the last checked run left it (`_connect`): a damaged page is found before anything is
    written (run and status used to exit 0 on a file whose unread pages were garbage). It
    reads the whole file, so its cost grows with the file's size; the idle minute never runs
    it (docs/DECISIONS.md, "Environment errors are not bugs")."""
    rows = conn.execute("PRAGMA quick_check(1)").fetchall()
    if rows != [("ok",)]:
        text = str(rows[0][0]) if rows else "no answer from quick_check"
        # "*** in database main ***\nPage 13: btreeInitPage() returns error code 11": one line
        detail = "; ".join(x for x in text.splitlines() if not x.startswith("***")) or text
        raise StoreError(damaged(path, detail))


def _stamp_path(path: Path) -> Path:
    return Path(os.path.realpath(path) + ".checked")


def _file_stamp(path: Path) -> str:
    st = os.stat(path)
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def _unchanged_since_checked(path: Path) -> bool:
    """Whether the file is byte for byte as a checked run left it: same inode, size and
    modification time as recorded when that run closed it (`SqliteStore.close`)."""
    try:
        return _stamp_path(path).read_text(encoding="ascii") == _file_stamp(path)
    except (OSError, UnicodeDecodeError):
        return False


def _connect(path: Path, busy_timeout_ms: int, stamped: bool = False) -> sqlite3.Connection:
    """Open, check and migrate; any failure is a StoreError naming the file (exit 1) and leaves
    the file as it was.

    `stamped`: skip the full check when the file is exactly as the last checked run left it
    (`run` and `serve` pass True: the check reads the whole file, and a cron minute with work
    must stay flat in the history's size). Anything that touched the file since (another
    program, a torn copy, a disk error written back) changes its stamp, and the next open
    checks it all again."""
    _create_private(path)
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=busy_timeout_ms / 1000)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if not (stamped and _unchanged_since_checked(path)):
            _check_integrity(conn, path)  # before the first write (the WAL switch, a migration)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise StoreError(f"{path}: cannot switch the database to WAL mode ({mode})")
        # The ledger is the record of what reached the outside world: fsync every commit.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        problem = database_problem(path, exc)
        raise StoreError(problem or f"{path}: cannot open the database: {exc}") from None
    except StoreError as exc:
        if conn is not None:
            conn.close()
        text = str(exc)
        raise StoreError(text if text.startswith(str(path)) else f"{path}: {text}") from None
    return conn


class Loaded(NamedTuple):
    """What `load` saw, so `save` writes only the difference (the hot path)."""

    pending: list[tuple[Event, int]]  # (event, events.id), in load order
    processed: int
    messages: int


class Connection(IdleQueries):
    """The open database and what this connection remembers between calls; each concern of
    the store (contacts.py, events.py, state.py, ledger.py, runs.py, meta.py) builds on it."""

    def __init__(
        self,
        path: Path | str,
        *,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        stamped: bool = False,
    ) -> None:
        self.path = Path(path)
        self.stamped = stamped  # see _connect; close() records the stamp
        self.conn = _connect(self.path, busy_timeout_ms, stamped)
        self._depth = 0
        self._loaded: dict[str, Loaded] = {}
        # Ledger row ids of messages this connection claimed, so `mark_sent_many` updates by
        # rowid instead of searching the key index (checked against the key all the same).
        self._claimed_ids: dict[str, int] = {}
        # The run this connection works for (begin_run): its claims carry its id, and the
        # run lock it holds tells recovery which other runs are dead (stale_attempts).
        self._run_id: int | None = None
        self._lock: HeldLock | None = None

    def close(self) -> None:
        self.conn.close()
        if self.stamped:
            # After the close (the last connection checkpoints the WAL into the file): the
            # next run skips the full check while the file stays exactly like this.
            try:
                _stamp_path(self.path).write_text(_file_stamp(self.path), encoding="ascii")
            except OSError:
                pass  # a read-only directory: the next run checks again

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction; re-entrant (inner ones join the outer one)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")  # take the write lock now, not at the first write
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            if self.conn.in_transaction:  # SQLite rolls back by itself on a full disk, I/O error
                self.conn.execute("ROLLBACK")
            self._loaded.clear()
            self._claimed_ids.clear()
            raise
        self._depth = 0
        self.conn.execute("COMMIT")

    @contextlib.contextmanager
    def rollback_only(self) -> Iterator[None]:
        """Everything inside happens in one transaction that is rolled back (`run --dry-run`)."""
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        finally:
            self._depth = 0
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self._loaded.clear()
            self._claimed_ids.clear()
