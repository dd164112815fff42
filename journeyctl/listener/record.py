"""What the listener writes, as jobs for `writer.Writer` (each runs inside a transaction).

Everything recorded is an event like an imported one (SPEC §6): the next tick acts on it and
`report` counts it by its `message_id`. Unsubscribes, opens, clicks and feedback are recorded
once per (contact, event, properties) and subscription, whatever the time: a provider's
repeated POST, a mail client that loads the pixel twice, a second click on the same link
change nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from journeyctl.engine.model import Contact, Event
from journeyctl.run.imports import import_contacts, import_events
from journeyctl.store.serialize import props_json

if TYPE_CHECKING:
    from journeyctl.store.open import OpenStore

Props = tuple[tuple[str, Any], ...]


def once(contact_id: str, name: str, props: Props, at: datetime) -> Callable[[OpenStore], bool]:
    """A job: record the event unless the contact has one of this name and properties
    already. True when recorded."""
    props = tuple(sorted(props))

    def job(store: OpenStore) -> bool:
        return add_once(store, [Event(contact_id, name, at, props)]) == 1

    return job


def add_once(store: OpenStore, batch: Sequence[Event]) -> int:
    """Add the events the contact has no event of that name and properties for since it
    last subscribed (at any time before that: a contact who subscribed again and then uses
    an old mail's unsubscribe link is unsubscribed again); how many were added."""
    fresh = []
    for ev in batch:
        seen = store.conn.execute(
            "SELECT 1 FROM events WHERE contact_id = ?1 AND event = ?2 AND props = ?3 "
            "AND at >= coalesce((SELECT max(at) FROM events WHERE contact_id = ?1 "
            "AND event = 'subscribed'), 0) LIMIT 1",
            (ev.contact_id, ev.name, props_json(ev.props)),
        ).fetchone()
        if seen is None:
            fresh.append(ev)
    return store.add_events(fresh)


def events(
    batch: Sequence[Event], now: datetime, max_age: timedelta, source: Path
) -> Callable[[OpenStore], tuple[int, int]]:
    """A job: import a batch as `events import` does (UnknownContacts, located in `source`,
    raised before any write). (new, already seen)."""

    def job(store: OpenStore) -> tuple[int, int]:
        counts = import_events(store, batch, now, max_age, source=source)
        return counts.events_new, counts.events_seen - counts.events_new

    return job


def contacts(batch: Sequence[Contact], now: datetime) -> Callable[[OpenStore], tuple[int, int]]:
    """A job: upsert a batch as `contacts import` does. (new, updated or unchanged)."""

    def job(store: OpenStore) -> tuple[int, int]:
        counts = import_contacts(store, batch, now)
        return counts.contacts_new, counts.contacts_seen - counts.contacts_new

    return job


def contact_of_message(store: OpenStore, message_id: str) -> str | None:
    row = store.conn.execute("SELECT contact_id FROM ledger WHERE key = ?", (message_id,))
    found = row.fetchone()
    return None if found is None else str(found[0])


def contact_by_email(store: OpenStore, email: str) -> str | None:
    row = store.conn.execute(
        "SELECT id FROM contacts WHERE lower(email) = lower(?) ORDER BY id LIMIT 1", (email,)
    ).fetchone()
    return None if row is None else str(row[0])
