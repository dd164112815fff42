"""Contacts: the import's upsert, and which contacts the store knows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from journeyctl.engine.model import Contact
from journeyctl.store.serialize import dumps, to_micros
from journeyctl.store.sqlite.connection import Connection


class Contacts(Connection):
    def upsert_contacts(self, contacts: Iterable[Contact], born: datetime) -> int:
        born_us = to_micros(born)
        with self.transaction():
            before = self.conn.execute("SELECT count(*) FROM contacts").fetchone()[0]
            changed: list[tuple[str]] = []

            def wake() -> None:
                # New contacts start at `born`; changed ones wake at their cursor so the engine
                # re-reads triggers that depend on attributes (a birthday added later, SPEC §2).
                self.conn.executemany(
                    "INSERT INTO contact_state(contact_id, cursor, next_due) "
                    f"VALUES (?1, {born_us}, {born_us}) ON CONFLICT(contact_id) DO UPDATE SET "
                    "next_due = CASE WHEN next_due IS NULL OR next_due > cursor THEN cursor "
                    "ELSE next_due END",
                    changed,
                )
                changed.clear()

            for c in contacts:  # may be a stream (contacts import): nothing kept per contact
                cur = self.conn.execute(
                    "INSERT INTO contacts(id, email, phone, name, timezone, attrs) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                    "email = excluded.email, phone = excluded.phone, name = excluded.name, "
                    "timezone = excluded.timezone, attrs = excluded.attrs "
                    "WHERE email IS NOT excluded.email OR phone IS NOT excluded.phone "
                    "OR name IS NOT excluded.name OR timezone IS NOT excluded.timezone "
                    "OR attrs IS NOT excluded.attrs",
                    (c.id, c.email, c.phone, c.name, c.timezone, dumps(c.attrs)),
                )
                if cur.rowcount:
                    changed.append((c.id,))
                    if len(changed) >= 10_000:
                        wake()
            wake()
            after = self.conn.execute("SELECT count(*) FROM contacts").fetchone()[0]
        return int(after - before)

    def known_contacts(self, ids: Iterable[str]) -> set[str]:
        """Which of `ids` are in the store (the importer reports events of unknown contacts)."""
        wanted = sorted(set(ids))
        known: set[str] = set()
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            known.update(
                r[0]
                for r in self.conn.execute(f"SELECT id FROM contacts WHERE id IN ({marks})", chunk)
            )
        return known
