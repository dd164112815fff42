"""Contacts: the import's upsert in batches (one statement per batch of rows), and which
contacts the store knows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from journeyctl.engine.model import Contact
from journeyctl.store.postgres.connection import Connection
from journeyctl.store.serialize import dumps, to_micros

BATCH = 5000

# One row per contact of the batch; a row that differs from the stored one (or is new)
# comes back, `xmax = 0` telling the new ones.
_UPSERT = (
    "INSERT INTO contacts(id, email, phone, name, timezone, attrs) "
    "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
    "%s::text[]) ON CONFLICT (id) DO UPDATE SET email = excluded.email, phone = excluded.phone, "
    "name = excluded.name, timezone = excluded.timezone, attrs = excluded.attrs "
    "WHERE (contacts.email, contacts.phone, contacts.name, contacts.timezone, contacts.attrs) "
    "IS DISTINCT FROM (excluded.email, excluded.phone, excluded.name, excluded.timezone, "
    "excluded.attrs) RETURNING id, (xmax = 0)"
)
# New contacts start at `born`; changed ones wake at their cursor so the engine re-reads
# triggers that depend on attributes (a birthday added later, SPEC §2).
_WAKE = (
    "INSERT INTO contact_state(contact_id, cursor, next_due) "
    "SELECT id, %s, %s FROM unnest(%s::text[]) AS u(id) ORDER BY id "
    "ON CONFLICT (contact_id) DO UPDATE SET next_due = CASE WHEN contact_state.next_due IS NULL "
    "OR contact_state.next_due > contact_state.cursor THEN contact_state.cursor "
    "ELSE contact_state.next_due END"
)


class Contacts(Connection):
    def upsert_contacts(self, contacts: Iterable[Contact], born: datetime) -> int:
        born_us = to_micros(born)
        new = 0
        with self.transaction():
            batch: dict[str, Contact] = {}

            def flush() -> None:
                nonlocal new
                if not batch:
                    return
                # The last row of an id wins, as it would row by row.
                rows = sorted(batch.values(), key=lambda c: c.id)
                cols = (
                    [c.id for c in rows],
                    [c.email for c in rows],
                    [c.phone for c in rows],
                    [c.name for c in rows],
                    [c.timezone for c in rows],
                    [dumps(c.attrs) for c in rows],
                )
                changed = self.raw.execute(_UPSERT, cols).fetchall()
                new += sum(1 for _, inserted in changed if inserted)
                if changed:
                    self.raw.execute(_WAKE, (born_us, born_us, [r[0] for r in changed]))
                batch.clear()

            for c in contacts:  # may be a stream (contacts import): a batch at a time
                if c.id in batch:
                    flush()  # the same id twice: the first row is applied before the second
                batch[c.id] = c
                if len(batch) >= BATCH:
                    flush()
            flush()
        return new

    def known_contacts(self, ids: Iterable[str]) -> set[str]:
        wanted = sorted(set(ids))
        known: set[str] = set()
        for i in range(0, len(wanted), BATCH):
            rows = self.raw.execute(
                "SELECT id FROM contacts WHERE id = ANY(%s)", (wanted[i : i + BATCH],)
            )
            known.update(r[0] for r in rows)
        return known
