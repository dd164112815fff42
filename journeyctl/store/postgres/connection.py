"""Connecting to the PostgreSQL server, the errors that become one line, and the
transactions every part of the store writes in.

The connection runs in autocommit mode with explicit BEGIN/COMMIT, as the SQLite store's
connection does (isolation_level=None): a statement outside `transaction()` commits alone.
A connection the server dropped (a restart, a network cut) is opened again at the next
transaction, so a long-lived process (`serve`, the listener's writer) carries on.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg.adapt import Dumper

from journeyctl.errors import StoreError
from journeyctl.store.postgres_url import redact_url

CONNECT_TIMEOUT_S = 10
# Advisory lock class ids (the first of the two int4 keys): the migration, and each run's
# liveness lock (its runs.id as the second key; runs.py).
MIGRATION_LOCK = 0x4A43_0001
RUN_LOCK = 0x4A43_0002


class _BoolAsInteger(Dumper):
    """Booleans go into the INTEGER columns the schema shares with SQLite as 0 and 1."""

    oid = psycopg.adapters.types["int8"].oid

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


def problem(exc: BaseException, url: str | None) -> str | None:
    """One line for an error of the server or the network (exit 1), naming the server without
    its password; None for anything else (a bug)."""
    if not isinstance(exc, psycopg.Error):
        return None
    where = redact_url(url) if url else "the PostgreSQL database"
    reason = _reason(exc, url)
    state = getattr(exc, "sqlstate", None) or ""
    if state.startswith("28") or "password authentication failed" in reason:
        return (
            f"{where}: the PostgreSQL server refused the login ({reason}); check the user and "
            "password in --db (keep the URL in an environment variable, e.g. "
            '--db "${JOURNEYCTL_DB}")'
        )
    if state == "3D000":
        return f"{where}: no such database on the server ({reason}); create it, or check --db"
    if state == "42501":
        return (
            f"{where}: permission denied ({reason}); the user in --db needs to create tables "
            "and write to them in this database"
        )
    if state in ("53100", "53200", "53300"):
        return f"{where}: the server is out of resources ({reason}); run again when it has room"
    if state in ("40001", "40P01", "55P03", "57014"):
        return f"{where}: the transaction was cancelled by the server ({reason}); run again"
    if isinstance(exc, psycopg.OperationalError):
        return (
            f"{where}: cannot reach the PostgreSQL server ({reason}); check that it is "
            "running and that the host and port in --db are right, then run again"
        )
    return None


def _reason(exc: BaseException, url: str | None) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if url:
        from urllib.parse import unquote, urlsplit

        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        for secret in {password, unquote(password or "")} - {None, ""}:
            text = text.replace(str(secret), "***")
    return text


def connect(url: str) -> psycopg.Connection[Any]:
    """An autocommit connection, or a StoreError (exit 1) naming the server."""
    try:
        conn = psycopg.connect(
            url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name="journeyctl"
        )
    except psycopg.Error as exc:
        raise StoreError(problem(exc, url) or f"{redact_url(url)}: {_reason(exc, url)}") from None
    conn.adapters.register_dumper(bool, _BoolAsInteger)
    return conn


# --- the SQLite store's SQL on this connection ---------------------------------------------

_TOKEN = re.compile(r"'(?:[^']|'')*'|\?(\d*)|%")


@functools.lru_cache(maxsize=256)
def translate(sql: str) -> tuple[str, tuple[int, ...] | None]:
    """SQL written for sqlite3 (`?` and `?N` parameters) as psycopg takes it (`%s`), with the
    order to pass the parameters in (None: as given). Only the placeholders change: the SQL
    itself must be one both servers understand (the read-only queries of store.queries,
    reporting.db_rows, the listener's and plan's questions)."""
    order: list[int] = []
    numbered = False
    n = 0

    def sub(m: re.Match[str]) -> str:
        nonlocal numbered, n
        token = m.group(0)
        if token == "%":
            return "%%"
        if token.startswith("'"):
            return token.replace("%", "%%")
        if m.group(1):
            numbered = True
            order.append(int(m.group(1)) - 1)
        else:
            order.append(n)
            n += 1
        return "%s"

    out = _TOKEN.sub(sub, sql)
    return out, tuple(order) if numbered else None


def _params(params: Sequence[Any] | None, order: tuple[int, ...] | None) -> Sequence[Any]:
    if params is None:
        return ()
    if order is None:
        return params
    return [params[i] for i in order]


class SqlConnection:
    """`execute` and `executemany` taking sqlite3's parameter style, so the read-only queries
    shared by both stores are written once (the store's `conn`)."""

    def __init__(self, owner: Connection) -> None:
        self._owner = owner

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> psycopg.Cursor[Any]:
        query, order = translate(sql)
        return self._owner.raw.execute(query, _params(params, order))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> psycopg.Cursor[Any]:
        query, order = translate(sql)
        cur = self._owner.raw.cursor()
        cur.executemany(query, [_params(r, order) for r in rows])
        return cur

    def batches(
        self, sql: str, params: Sequence[Any] | None, size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of a read-only query, `size` at a time, from a server-side cursor (which
        lives in a transaction): the client never holds the whole result."""
        query, order = translate(sql)
        owner = self._owner
        with owner.transaction(), owner.raw.cursor(name="journeyctl_batches") as cur:
            cur.execute(query, _params(params, order))
            while rows := cur.fetchmany(size):
                yield rows


class Connection:
    """The open connection and what it remembers between calls; each concern of the store
    (contacts.py, events.py, state.py, ledger.py, runs.py) builds on it."""

    def __init__(self, url: str, **_: Any) -> None:
        from journeyctl.store.postgres.schema import migrate

        self.url = url
        self.path = redact_url(url)  # how messages name the database
        self.raw = connect(url)
        self.conn = SqlConnection(self)
        self._depth = 0
        try:
            migrate(self.raw)
        except psycopg.Error as exc:
            self.raw.close()
            raise StoreError(problem(exc, url) or f"{self.path}: {_reason(exc, url)}") from None
        except StoreError as exc:
            self.raw.close()
            raise StoreError(f"{self.path}: {exc}") from None
        # What `load` saw, so `save` writes only the difference (sqlite.connection.Loaded).
        self._loaded: dict[str, Any] = {}
        # The run this connection works for (begin_run): its claims carry its id, and the
        # advisory lock its session holds tells other workers it is alive (runs.py).
        self._run_id: int | None = None
        # Who leased a due contact (contact_state.claimed_by): the run, or this connection.
        import secrets

        self._owner = -(secrets.randbits(62) + 1)

    def close(self) -> None:
        self.raw.close()

    def _reconnect_if_broken(self) -> None:
        if self._depth == 0 and (self.raw.broken or self.raw.closed):
            self.raw = connect(self.url)
            if self._run_id is not None:
                from journeyctl.store.postgres.runs import hold_run_lock

                hold_run_lock(self.raw, self._run_id)

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
        self._reconnect_if_broken()
        self.raw.execute("BEGIN")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._abort()
            raise
        self._depth = 0
        self.raw.execute("COMMIT")

    def _abort(self) -> None:
        self._loaded.clear()
        if self.raw.broken or self.raw.closed:
            return
        with contextlib.suppress(psycopg.Error):
            self.raw.execute("ROLLBACK")

    @contextlib.contextmanager
    def rollback_only(self) -> Iterator[None]:
        """Everything inside happens in one transaction that is rolled back (`run --dry-run`)."""
        self._reconnect_if_broken()
        self.raw.execute("BEGIN")
        self._depth = 1
        try:
            yield
        finally:
            self._depth = 0
            self._abort()

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    def server_micros(self) -> int:
        """The server's clock (leases are measured by it: every worker reads the same clock)."""
        row = self.raw.execute(
            "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
        ).fetchone()
        assert row is not None
        return int(row[0])
