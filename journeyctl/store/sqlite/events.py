"""Events: the import's inserts and wake-ups, and the rows a save writes for them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from journeyctl.engine.model import ContactState, Event
from journeyctl.store.serialize import props_json, to_micros
from journeyctl.store.sqlite.connection import Connection, Loaded


class Events(Connection):
    def add_events(self, events: Iterable[Event]) -> int:
        new = 0
        wake: dict[str, int] = {}
        first: dict[str, int] = {}  # contact -> its earliest new enrolling event
        with self.transaction():
            for ev in events:
                at = to_micros(ev.at)
                cur = self.conn.execute(
                    "INSERT INTO events(contact_id, event, at, props, enrolls) "
                    "SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM contacts WHERE id = ?1) "
                    "ON CONFLICT DO NOTHING",
                    (ev.contact_id, ev.name, at, props_json(ev.props), int(ev.enrolls)),
                )
                if cur.rowcount:
                    new += 1
                    if ev.contact_id not in wake or at < wake[ev.contact_id]:
                        wake[ev.contact_id] = at
                    if ev.enrolls and (ev.contact_id not in first or at < first[ev.contact_id]):
                        first[ev.contact_id] = at
            # A contact that nothing has happened to yet (new in this import: no enrollment,
            # no event processed, no trigger checked) starts just before its first enrolling
            # event, so its events are processed at their own times, as simulate processes
            # them, however late the export brought them (SPEC §5). Nothing it could repeat.
            self.conn.executemany(
                "UPDATE contact_state SET cursor = ?1 - 1, next_due = ?1 - 1 "
                "WHERE contact_id = ?2 AND cursor > ?1 - 1 AND triggers = '{}' "
                "AND NOT EXISTS (SELECT 1 FROM enrollments WHERE contact_id = ?2) "
                "AND NOT EXISTS (SELECT 1 FROM events WHERE contact_id = ?2 AND processed = 1)",
                [(at, cid) for cid, at in first.items()],
            )
            # An event wakes its contact at its time, or at the cursor if that is already past.
            self.conn.executemany(
                "UPDATE contact_state SET next_due = CASE WHEN next_due IS NULL "
                "OR next_due > max(?1, cursor) THEN max(?1, cursor) ELSE next_due END "
                "WHERE contact_id = ?2",
                [(at, cid) for cid, at in wake.items()],
            )
        return new


SAVE_ALL_EVENTS = (
    "INSERT INTO events(contact_id, event, at, props, enrolls, processed) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET processed = excluded.processed"
)
INSERT_NEW_EVENTS = (
    "INSERT OR IGNORE INTO events(contact_id, event, at, props, enrolls, processed) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)


def all_event_rows(state: ContactState) -> list[tuple[Any, ...]]:
    """A state not loaded here: every event with its processed flag (SAVE_ALL_EVENTS)."""
    cid = state.contact.id
    rows = [(e, 1) for e in state.events] + [(e, 0) for e in state.pending]
    return [(cid, e.name, to_micros(e.at), props_json(e.props), int(e.enrolls), p) for e, p in rows]


def events_delta(
    state: ContactState,
    seen: Loaded,
    done: list[tuple[int]],
    fresh: list[tuple[Any, ...]],
) -> None:
    """Rows for what changed since `load`: events now processed (`done`, by id), events not
    stored yet (`fresh`, INSERT_NEW_EVENTS)."""
    if not state.pending:  # the usual case: the engine took every pending event
        done += [(eid,) for _, eid in seen.pending]
        if len(state.events) > seen.processed + len(seen.pending):
            new = [(e, 1) for e in state.events]  # history set on the state
        else:
            return
    else:
        # Natural keys only here, when some events stay pending.
        still = {e.natural_key for e in state.pending}
        before = len(done)
        done += [(eid,) for e, eid in seen.pending if e.natural_key not in still]
        ndone = len(done) - before
        # Events the engine created itself (assumed responses) or history set on the state.
        known = {e.natural_key for e, _ in seen.pending}
        new = [(e, 0) for e in state.pending if e.natural_key not in known]
        if len(state.events) > seen.processed + ndone:
            new += [(e, 1) for e in state.events]
    cid = state.contact.id
    fresh += [
        (cid, e.name, to_micros(e.at), props_json(e.props), int(e.enrolls), p) for e, p in new
    ]
