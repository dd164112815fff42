"""The idle cron minute's question on PostgreSQL (run.idle): the SQLite idle database's
queries and runs row (store/sqlite_idle.py) over one plain connection, no migration and no
pool. Imported only for a postgresql:// URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from journeyctl.store.migrations import LATEST
from journeyctl.store.postgres.connection import SqlConnection
from journeyctl.store.postgres.schema import current_version
from journeyctl.store.sqlite_idle import IdleDatabase, NotIdle


class PostgresIdleDatabase(IdleDatabase):
    """A database at the latest schema; anything else is NotIdle (the full command migrates).
    Connection errors are psycopg errors, for the caller to fall back on."""

    def __init__(self, url: str, connect_timeout_s: float) -> None:
        self.raw = psycopg.connect(
            url, autocommit=True, connect_timeout=max(1, int(connect_timeout_s)),
            application_name="journeyctl",
        )  # fmt: skip
        self.conn = SqlConnection(self)  # type: ignore[assignment, arg-type]
        try:
            if current_version(self.raw) != LATEST:
                raise NotIdle("the database schema is not the latest")
        except BaseException:
            self.raw.close()
            raise

    def close(self) -> None:
        self.raw.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.raw.execute("BEGIN")
        try:
            yield
        except BaseException:
            if not self.raw.broken:
                self.raw.execute("ROLLBACK")
            raise
        self.raw.execute("COMMIT")
