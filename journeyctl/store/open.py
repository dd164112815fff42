"""Opening the store `--db` names: a SQLite file, or a PostgreSQL database by its URL
(`postgresql://...` or `postgres://...`). Every command opens its store here.

psycopg is imported only for a URL, so SQLite's commands (and its idle cron minute) never
pay for it; without it, a URL is a usage error saying what to install.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from journeyctl.errors import UsageError
from journeyctl.store.postgres_url import display_name, is_postgres_url

if TYPE_CHECKING:
    from journeyctl.store.base import Queries

if TYPE_CHECKING:
    from typing import TypeAlias

    from journeyctl.store.postgres.store import PostgresStore
    from journeyctl.store.sqlite import SqliteStore

    OpenStore: TypeAlias = SqliteStore | PostgresStore

INSTALL_HINT = "pip install 'journeyctl[postgres]'"

__all__ = ["INSTALL_HINT", "display_name", "exists", "is_postgres_url", "open_store", "reading"]


def open_store(db: str | Path, *, stamped: bool = False) -> OpenStore:
    """The store at `db`, created and migrated if needed (StoreError when it cannot be
    opened: one line naming the file or the server, never a password).

    `stamped` (SQLite): skip the full integrity check while the file is as the last checked
    run left it (store/sqlite/connection.py)."""
    if is_postgres_url(db):
        try:
            from journeyctl.store.postgres.store import PostgresStore
        except ImportError as exc:
            if exc.name is not None and exc.name.split(".")[0] in ("psycopg", "psycopg_pool"):
                raise UsageError(
                    f"--db {display_name(db)}: PostgreSQL support is not installed ({exc.name} "
                    f"is missing): {INSTALL_HINT}"
                ) from None
            raise
        return PostgresStore(str(db))
    from journeyctl.store.sqlite import SqliteStore

    return SqliteStore(Path(db), stamped=stamped)


@contextlib.contextmanager
def reading(db: str | Path) -> Iterator[Queries]:
    """A read-only connection of its own, taking sqlite3's SQL (store.base.Queries): a
    listener's metrics scrape never waits for the writer. SQLite: opened read-only for the
    call; PostgreSQL: borrowed from the process's pool (store/postgres/pool.py)."""
    if is_postgres_url(db):
        from journeyctl.store.postgres.pool import reading as pooled

        with pooled(str(db)) as conn:
            yield conn
        return
    import sqlite3

    lite = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        yield lite
    finally:
        lite.close()


def exists(db: str | Path) -> bool:
    """Whether there is a database to read at `db` (reading commands never create one): a
    SQLite file that exists; a PostgreSQL URL always (the server says otherwise)."""
    return is_postgres_url(db) or Path(db).is_file()
