"""PostgresStore: the Store protocol on a PostgreSQL database (psycopg 3), for several
`run`/`serve` workers and listeners sharing one state (SPEC §7; docs/decisions/postgres.md).

The schema mirrors SQLite's (schema.py): the same tables and column names, times as integer
UTC epoch microseconds, booleans as 0 and 1, so a table-by-table copy moves a state from
one store to the other (`journeyctl db migrate`). Rows are encoded by the same codecs
(store/serialize.py, store/sqlite/rows.py, engine.model's declarations).

What differs is how workers share it: due contacts and deliveries are claimed with
`FOR UPDATE SKIP LOCKED` and a lease (state.py, ledger.py); instead of the kernel file lock,
each run's session holds an advisory lock that tells other workers it is alive (runs.py);
migrations run once under an advisory lock (schema.py). Open it with `store.open.open_store`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from journeyctl.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]


def __getattr__(name: str) -> Any:
    # Lazily: the idle minute imports store.postgres.idle, which must not pay for the store.
    if name == "PostgresStore":
        from journeyctl.store.postgres.store import PostgresStore

        return PostgresStore
    raise AttributeError(name)
