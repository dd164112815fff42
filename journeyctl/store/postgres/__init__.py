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

from journeyctl.store.postgres.contacts import Contacts
from journeyctl.store.postgres.events import Events
from journeyctl.store.postgres.ledger import Ledger
from journeyctl.store.postgres.runs import Runs
from journeyctl.store.postgres.state import State
from journeyctl.store.sqlite_idle import IdleQueries

__all__ = ["PostgresStore"]


class PostgresStore(Contacts, Events, State, Ledger, Runs, IdleQueries):  # type: ignore[misc]
    """The store on one PostgreSQL database: open it with its URL."""
