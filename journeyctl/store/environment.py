"""Errors of the machine, not of journeyctl: a damaged, foreign, read-only or locked database
file, a full disk, a permission refused. Each becomes one line that names the file and says
what to do (exit 1, cli/boundary.py); anything else stays an internal error (exit 3, a bug).

SQLite says which by its result code (`sqlite3.Error.sqlite_errorcode`, Python 3.11), not by
its message, so a misspelt column (also an OperationalError) is still reported as a bug.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

# Primary result codes (the low byte of an extended code, e.g. SQLITE_READONLY_DBMOVED).
_CORRUPT = {sqlite3.SQLITE_CORRUPT}
_NOTADB = {sqlite3.SQLITE_NOTADB}
_FULL = {sqlite3.SQLITE_FULL}
_READONLY = {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH}
_CANTOPEN = {sqlite3.SQLITE_CANTOPEN}
_IOERR = {sqlite3.SQLITE_IOERR, sqlite3.SQLITE_NOLFS}
_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}

_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
_DENIED = {errno.EACCES, errno.EPERM, errno.EROFS}


def damaged(path: Path | str, detail: str) -> str:
    return (
        f"{path}: the database file is damaged ({detail}); nothing was changed. Restore it "
        f"from a backup, or salvage what is readable with `sqlite3 {path} .recover | sqlite3 "
        f"{path}.recovered` and run with --db {path}.recovered"
    )


def database_problem(path: Path | str | None, exc: sqlite3.Error) -> str | None:
    """One line for an environment error of the database at `path`, or None (a bug)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return None
    code &= 0xFF
    where = path if path is not None else "the database"
    if code in _CORRUPT:
        return damaged(where, str(exc))
    if code in _NOTADB:
        return f"{where} is not a journeyctl database ({exc}): check --db"
    if code in _FULL:
        return (
            f"{where}: the disk is full ({exc}); the transaction in progress was rolled back "
            "and nothing recorded was lost: free some space and run again"
        )
    name = Path(str(where)).name
    if code in _READONLY:
        return (
            f"{where}: the database is read-only ({exc}); journeyctl writes to it and creates "
            f"{name}-wal and {name}-shm beside it: give write access to the file and its directory"
        )
    if code in _CANTOPEN:
        return (
            f"{where}: cannot open the database file ({exc}); check that its directory exists "
            f"and is writable (journeyctl creates {name}-wal and {name}-shm beside it)"
        )
    if code in _IOERR:
        return f"{where}: disk I/O error ({exc}); check the disk, then run again"
    if code in _BUSY:
        return (
            f"{where}: the database is locked by another process ({exc}); run again when it is done"
        )
    return None


def os_problem(exc: OSError) -> str | None:
    """One line for a full disk or a refused permission (the outbox, the lock file), or None."""
    if exc.errno not in _NO_SPACE | _DENIED:
        return None
    where = exc.filename if exc.filename is not None else "a file"
    reason = exc.strerror or os.strerror(exc.errno or 0)
    if exc.errno in _NO_SPACE:
        return f"{where}: {reason}; free some space and run again"
    return f"{where}: {reason}; check the permissions of the file and its directory"
