"""Events: the import's inserts in batches and the wake-ups, and the rows a save writes."""

from __future__ import annotations

from collections.abc import Iterable

from journeyctl.engine.model import Event
from journeyctl.store.postgres.connection import Connection
from journeyctl.store.serialize import props_json, to_micros

BATCH = 5000

# Events of unknown contacts are left out; one already stored (its natural key) too.
_INSERT = (
    "INSERT INTO events(contact_id, event, at, props, enrolls) "
    "SELECT u.contact_id, u.event, u.at, u.props, u.enrolls FROM unnest(%s::text[], %s::text[], "
    "%s::bigint[], %s::text[], %s::bigint[]) WITH ORDINALITY "
    "AS u(contact_id, event, at, props, enrolls, n) "
    "WHERE EXISTS (SELECT 1 FROM contacts WHERE id = u.contact_id) ORDER BY u.n "
    "ON CONFLICT DO NOTHING RETURNING contact_id, at, enrolls"
)
# A contact that nothing has happened to yet starts just before its first enrolling event
# (sqlite/events.py says why).
_START = (
    "UPDATE contact_state SET cursor = %(at)s - 1, next_due = %(at)s - 1 "
    "WHERE contact_id = %(cid)s AND cursor > %(at)s - 1 AND triggers = '{}' "
    "AND NOT EXISTS (SELECT 1 FROM enrollments WHERE contact_id = %(cid)s) "
    "AND NOT EXISTS (SELECT 1 FROM events WHERE contact_id = %(cid)s AND processed = 1)"
)
# An event wakes its contact at its time, or at the cursor if that is already past.
_WAKE = (
    "UPDATE contact_state SET next_due = CASE WHEN next_due IS NULL "
    "OR next_due > greatest(%(at)s, cursor) THEN greatest(%(at)s, cursor) ELSE next_due END "
    "WHERE contact_id = %(cid)s"
)


class Events(Connection):
    def add_events(self, events: Iterable[Event]) -> int:
        new = 0
        wake: dict[str, int] = {}
        first: dict[str, int] = {}  # contact -> its earliest new enrolling event
        with self.transaction():
            batch: list[Event] = []

            def flush() -> None:
                nonlocal new
                if not batch:
                    return
                cols = (
                    [e.contact_id for e in batch],
                    [e.name for e in batch],
                    [to_micros(e.at) for e in batch],
                    [props_json(e.props) for e in batch],
                    [int(e.enrolls) for e in batch],
                )
                for cid, at, enrolls in self.raw.execute(_INSERT, cols):
                    new += 1
                    if cid not in wake or at < wake[cid]:
                        wake[cid] = at
                    if enrolls and (cid not in first or at < first[cid]):
                        first[cid] = at
                batch.clear()

            for ev in events:
                batch.append(ev)
                if len(batch) >= BATCH:
                    flush()
            flush()
            # In contact order: every writer locks contact_state rows in one order (no deadlock
            # between a listener recording events and a worker advancing the same contacts).
            cur = self.raw.cursor()
            if first:
                cur.executemany(_START, [{"at": first[c], "cid": c} for c in sorted(first)])
            if wake:
                cur.executemany(_WAKE, [{"at": wake[c], "cid": c} for c in sorted(wake)])
        return new
