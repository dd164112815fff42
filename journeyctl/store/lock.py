"""The run lock: one `run` (or `serve` tick) at a time per database, as a kernel file lock.

`fcntl.flock` on `<db>.lock` is released by the kernel when the holder exits, however it
exits, so it can never go stale after kill -9 (Mautic's time-based lock did, and overlapping
crons sent the same mail up to six times). The lock is an optimisation on top of the ledger:
claims are atomic even without it, so no message can be delivered twice by overlap.

The lock belongs to the database, not to the path a run was given: the lock file sits next
to the database's real path (symlinks, `..` and relative paths resolved, as SQLite resolves
them to name its -wal file), so `j.db`, `alias/j.db` (a symlink) and `/srv/j.db` share one
lock. A run records the lock it holds (its real path and file identity) in `runs`, so
recovery can tell whether the run that claimed a delivery is still alive (`probe`).
Hard links are not resolved: SQLite cannot either, and names a separate -wal file after
each link, so one database opened through two hard links is already unsafe (see
docs/DECISIONS.md, "Run: the lock belongs to the database").
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


class LockHeld(Exception):
    """Another process holds the run lock."""


class HeldLock:
    """The run lock a run holds: the lock file's real path and `st_dev:st_ino` identity.

    A plain class, not a dataclass: the idle cron minute takes this lock too, and building a
    dataclass at import is a measurable part of that minute."""

    __slots__ = ("identity", "path")

    def __init__(self, path: str, identity: str) -> None:
        self.path = path
        self.identity = identity

    def __repr__(self) -> str:
        return f"HeldLock(path={self.path!r}, identity={self.identity!r})"


def lock_path(db: Path | str) -> Path:
    """`<real path of db>.lock`: the same file whichever path names the database."""
    return Path(os.path.realpath(db) + ".lock")


def _identity(st: os.stat_result) -> str:
    return f"{st.st_dev}:{st.st_ino}"


@contextlib.contextmanager
def run_lock(db: Path | str) -> Iterator[HeldLock]:
    """Hold the run lock for `db`, or raise LockHeld at once (never waits)."""
    path = lock_path(db)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(str(path)) from None
        try:
            yield HeldLock(str(path), _identity(os.fstat(fd)))
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def probe(path: str, identity: str) -> bool | None:
    """Whether anyone holds the run lock at `path` (the file `identity` named when a run took
    it): True while held, False when free, None when it cannot tell (the file is gone or is
    another file now). Never waits; takes the lock for an instant only to test it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return None
    try:
        if _identity(os.fstat(fd)) != identity:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return None
        return False  # closing the descriptor releases the instant's lock
    finally:
        os.close(fd)
