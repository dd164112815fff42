"""PostgresStore: the parts of the store (one module per concern) put together; see the
package docstring (store/postgres/__init__.py)."""

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

    leases_contacts = True  # several workers share the due contacts (state.due_contacts)
