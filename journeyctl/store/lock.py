"""The run lock: one `run` (or `serve` tick) at a time per database, as a kernel file lock.

`fcntl.flock` on `<db>.lock` is released by the kernel when the holder exits, however it
exits, so it can never go stale after kill -9 (Mautic's time-based lock did, and overlapping
crons sent the same mail up to six times). The lock is an optimisation on top of the ledger:
claims are atomic even without it, so no message can be delivered twice by overlap.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


class LockHeld(Exception):
    """Another process holds the run lock."""


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


@contextlib.contextmanager
def run_lock(db: Path) -> Iterator[None]:
    """Hold the run lock for `db`, or raise LockHeld at once (never waits)."""
    fd = os.open(lock_path(db), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(str(lock_path(db))) from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
