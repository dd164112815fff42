"""`journeyctl db migrate --from A --to B`: a whole state from one store into another (SQLite
file -> PostgreSQL, or back), verified table by table before the target commits.

The source is read in one snapshot while its run lock is held (a SQLite source: no `run` or
`serve` tick can start meanwhile, and one holding it is refused); the target is written in one
transaction, checked by counts and checksums inside it (store/transfer.py), and committed only
when every table matches: a failed or interrupted copy leaves the target as it was.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from journeyctl.errors import StoreError, UsageError
from journeyctl.store.lock import LockHeld, run_lock
from journeyctl.store.postgres_url import display_name, is_postgres_url
from journeyctl.store.transfer import BATCH, TABLES, TableCopy, copy_all, nonempty


@dataclass(frozen=True)
class MigrateReport:
    source: str  # as shown: a path, or a URL without its password
    target: str
    replaced: dict[str, int]  # rows the target held before (--replace), by table
    tables: list[TableCopy]


def _create(db: str) -> None:
    """Open `db` through its store once: creates the file or schema and migrates it."""
    from journeyctl.store.open import open_store

    open_store(db).close()


def _connect(db: str) -> Any:
    if is_postgres_url(db):
        import psycopg

        try:
            return psycopg.connect(db)
        except psycopg.Error as exc:
            raise StoreError(f"{display_name(db)}: cannot connect: {exc}") from None
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


@contextlib.contextmanager
def _locked(db: str, role: str) -> Iterator[None]:
    """The run lock of a SQLite file for the whole copy; PostgreSQL has none to take."""
    if is_postgres_url(db):
        yield
        return
    try:
        with run_lock(db):
            yield
    except LockHeld:
        raise StoreError(
            f"{db}: a run holds the lock on the {role} (a `run` in progress, or `serve`): "
            "stop it (and the cron line, the systemd unit) and run db migrate again"
        ) from None


def _begin_read(conn: Any) -> None:
    if isinstance(conn, sqlite3.Connection):
        conn.execute("BEGIN")  # a WAL snapshot from the first read on
    else:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


def _begin_write(conn: Any) -> None:
    if isinstance(conn, sqlite3.Connection):
        conn.execute("BEGIN IMMEDIATE")


def migrate(
    source: str,
    target: str,
    *,
    replace: bool = False,
    batch: int = BATCH,
    progress: Callable[[str, int], None] | None = None,
) -> MigrateReport:
    if source == target:
        raise UsageError("--from and --to name the same database")
    if not is_postgres_url(source) and not Path(source).is_file():
        raise UsageError(f"--from: {source} does not exist")
    if is_postgres_url(source) == is_postgres_url(target) and not is_postgres_url(source):
        raise UsageError(
            "--from and --to are both SQLite files: copy the file with `sqlite3 FROM "
            "'.backup TO'` instead"
        )
    with _locked(source, "source"), _locked(target, "target"):
        _create(source)  # an older SQLite file is brought to this version's schema first
        _create(target)
        src, dst = _connect(source), _connect(target)
        try:
            _begin_read(src)
            _begin_write(dst)
            held = nonempty(dst)
            if held and not replace:
                listed = ", ".join(f"{t} {n:,}" for t, n in held.items())
                raise StoreError(
                    f"{display_name(target)} already holds a state ({listed} rows); nothing "
                    "was copied. Give --replace to delete it and copy over it, or name an "
                    "empty database"
                )
            if replace:
                for table in reversed(TABLES):
                    dst.execute(f"DELETE FROM {table}")
            tables = copy_all(src, dst, batch=batch, progress=progress)
            bad = [t for t in tables if not t.ok]
            if bad:
                raise StoreError(
                    "the copy does not match the source ("
                    + "; ".join(f"{t.table}: {t.source_rows} rows -> {t.target_rows}" for t in bad)
                    + "); the target was left as it was"
                )
            dst.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                dst.rollback()
            raise
        finally:
            with contextlib.suppress(Exception):
                src.rollback()
            src.close()
            dst.close()
    return MigrateReport(display_name(source), display_name(target), held, tables)
