"""The engine's view on PostgreSQL: which contacts are due (claimed with a lease, so two
workers never advance the same contact at once), loading their state (rows locked until the
save commits) and saving what the engine decided, in one transaction.

Rows are encoded and decoded by the codecs SQLite uses (store/sqlite/rows.py,
store/sqlite/events.py); only the statements differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from journeyctl.engine.model import ContactState, Message, StepResult
from journeyctl.store.contact_state import load_states, save_rows
from journeyctl.store.postgres.connection import Connection, translate
from journeyctl.store.postgres.runs import DEAD_CLAIMER
from journeyctl.store.serialize import (
    opt_datetime,
    to_micros,
)
from journeyctl.store.sqlite.rows import (
    HISTORY_COLUMNS,
    MESSAGE_COLUMNS,
    N_MESSAGE,
    SAVE_ENROLLMENT,
)

# How long a due contact stays taken by the worker that claimed it, by the server's clock,
# when that worker's run cannot be told dead sooner (its advisory lock: runs.py).
LEASE_US = 10 * 60 * 1_000_000
_CHUNK = 1000

_CLAIM_CONTACTS = (
    "UPDATE contact_state SET claimed_by = %(me)s, lease_until = %(until)s "
    "WHERE contact_id IN (SELECT contact_id FROM contact_state WHERE next_due IS NOT NULL "
    "AND next_due <= %(now)s AND (claimed_by IS NULL OR claimed_by = %(me)s "
    f"OR lease_until < %(clock)s OR {DEAD_CLAIMER.format(col='claimed_by')}) "
    "ORDER BY next_due, contact_id LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
    "RETURNING contact_id, next_due"
)
_SAVE_STATE = (
    "UPDATE contact_state SET cursor = %s, next_due = %s, triggers = %s, suppressed = %s, "
    "claimed_by = NULL, lease_until = NULL WHERE contact_id = %s"
)
_UPSERT_STATE = (
    "INSERT INTO contact_state(cursor, next_due, triggers, suppressed, contact_id) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (contact_id) DO UPDATE SET "
    "cursor = excluded.cursor, next_due = excluded.next_due, triggers = excluded.triggers, "
    "suppressed = excluded.suppressed, claimed_by = NULL, lease_until = NULL"
)
_SAVE_ALL_EVENTS = (
    "INSERT INTO events(contact_id, event, at, props, enrolls, processed) "
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (contact_id, event, at, md5(props)) "
    "DO UPDATE SET processed = excluded.processed"
)
_INSERT_NEW_EVENTS = (
    "INSERT INTO events(contact_id, event, at, props, enrolls, processed) "
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)
_INSERT_LEDGER = (
    f"INSERT INTO ledger({MESSAGE_COLUMNS}, state, attempts, next_attempt_at, claimed_by, "
    f"lease_until) VALUES ({','.join(['%s'] * (N_MESSAGE + 5))}) "
    "ON CONFLICT (key) DO NOTHING RETURNING key, id"
)


class State(Connection):
    def due_contacts(self, now: datetime, limit: int | None = None) -> list[str]:
        """Due contacts, taken by this worker: leased (contact_state.claimed_by, lease_until)
        until `save` writes them, so another worker skips them; a lease of a dead worker's
        run ends with its session (runs.py), any other after LEASE_US."""
        clock = self.server_micros()
        me = self._run_id if self._run_id is not None else self._owner
        rows = self.raw.execute(
            _CLAIM_CONTACTS,
            {"me": me, "until": clock + LEASE_US, "now": to_micros(now), "clock": clock,
             "limit": limit},
        ).fetchall()  # fmt: skip
        rows.sort(key=lambda r: (r[1], r[0].encode()))  # RETURNING order is unspecified
        return [r[0] for r in rows]

    def wake_held(self, project_digest: str) -> int:
        with self.transaction():
            cur = self.raw.execute(
                "UPDATE contact_state SET next_due = cursor WHERE contact_id IN "
                "(SELECT contact_id FROM enrollments WHERE held IS NOT NULL AND outcome = 'active' "
                "AND substr(held, 1, length(%(d)s)) != %(d)s) "
                "AND (next_due IS NULL OR next_due > cursor)",
                {"d": project_digest},
            )
        return int(cur.rowcount)

    def wake_all(self) -> int:
        with self.transaction():
            cur = self.raw.execute(
                "UPDATE contact_state SET next_due = cursor "
                "WHERE next_due IS NULL OR next_due > cursor"
            )
        return int(cur.rowcount)

    def next_wake(self) -> datetime | None:
        row = self.raw.execute(
            "SELECT min(next_due) FROM contact_state WHERE next_due IS NOT NULL"
        ).fetchone()
        return opt_datetime(row[0] if row else None)

    def load(self, contact_id: str) -> ContactState:
        return self._load_many([contact_id], MESSAGE_COLUMNS)[0]

    def load_many(self, contact_ids: Sequence[str]) -> list[ContactState]:
        out: list[ContactState] = []
        for i in range(0, len(contact_ids), _CHUNK):
            out += self._load_many(contact_ids[i : i + _CHUNK], HISTORY_COLUMNS)
        return out

    def _load_many(self, ids: Sequence[str], message_columns: str) -> list[ContactState]:
        wanted = (list(ids),)

        def query(sql: str, column: str) -> Iterable[tuple[Any, ...]]:
            return self.raw.execute(sql.format(ids=f"{column} = ANY(%s)"), wanted)

        # In a transaction the contacts' state rows stay locked until it ends: a listener
        # recording an event for one of them waits, and its wake-up lands after our save.
        lock = " ORDER BY s.contact_id FOR UPDATE OF s" if self.in_transaction else ""
        return load_states(query, ids, message_columns, self._loaded, lock)

    def save(self, state: ContactState, result: StepResult) -> None:
        self.save_many([(state, result)])

    def save_many(
        self, saves: Iterable[tuple[ContactState, StepResult]], claim: datetime | None = None
    ) -> list[tuple[Message, int]]:
        """As SqliteStore.save_many; the contacts' leases end with the save. New ledger rows
        whose key is stored already (another worker decided them) are left out, and only the
        rows this save inserted are returned as claimed."""
        claim_us = None if claim is None else to_micros(claim)
        with self.transaction():
            attempting = None
            if claim_us is not None:
                lease_until = self.server_micros() + LEASE_US
                attempting = ("attempting", 1, claim_us, self._run_id, lease_until)
            rows = save_rows(saves, self._loaded, attempting, extra=(None, None))
            cur = self.raw.cursor()
            x = cur.executemany
            if rows.all_events:
                x(_SAVE_ALL_EVENTS, rows.all_events)
            if rows.rearm:
                x(
                    "DELETE FROM ledger WHERE contact_id = %s AND enrollment_id = %s "
                    "AND state = 'failed' AND reason = 'render_error'",
                    rows.rearm,
                )
            if rows.states:
                x(_SAVE_STATE, rows.states)
            if rows.new_states:
                x(_UPSERT_STATE, rows.new_states)
            if rows.enrollments:
                x(translate(SAVE_ENROLLMENT)[0], rows.enrollments)
            if rows.done:
                x("UPDATE events SET processed = 1 WHERE id = %s", rows.done)
            if rows.fresh:
                x(_INSERT_NEW_EVENTS, rows.fresh)
            ids: dict[str, int] = {}
            if rows.ledger:
                x(_INSERT_LEDGER, rows.ledger, returning=True)
                while True:
                    ids.update(cur.fetchall())
                    if not cur.nextset():
                        break
            if rows.failed:
                x(
                    "UPDATE ledger SET error = %s WHERE id = %s AND state = 'failed'",
                    [(w, ids[k]) for k, w in rows.failed.items() if k in ids],
                )
            claimed = [m for m in rows.claimed if m.key in ids]
        return [(m, 1) for m in claimed]
