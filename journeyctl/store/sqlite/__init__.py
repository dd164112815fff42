"""SqliteStore: the Store protocol on one SQLite file (WAL, synchronous=FULL, BEGIN IMMEDIATE).

Raw `sqlite3` on purpose: the hot paths are `executemany` and `UPDATE ... RETURNING`, and an
idle cron tick should not import sqlite-utils (see docs/DECISIONS.md). Schema: migrations.py.

One module per concern, each a part of the store built on the open connection
(connection.py): contacts, events, the engine's state, the delivery ledger, runs and meta;
rows.py turns model objects into rows. The idle minute asks its question without this package
(store/sqlite_idle.py, which also holds the SQL the two share).
"""

from __future__ import annotations

from journeyctl.store.sqlite.contacts import Contacts
from journeyctl.store.sqlite.events import Events
from journeyctl.store.sqlite.ledger import Ledger
from journeyctl.store.sqlite.meta import Meta
from journeyctl.store.sqlite.runs import Runs
from journeyctl.store.sqlite.state import State

__all__ = ["SqliteStore"]


class SqliteStore(Contacts, Events, State, Ledger, Runs, Meta):
    """The store on one SQLite file: open it with the path (`stamped`: see connection._connect)."""

    leases_contacts = False  # one run at a time, under the run lock
