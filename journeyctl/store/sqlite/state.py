"""The engine's view: which contacts are due, loading their state and saving what the engine
decided (contact_state, enrollments, events and new ledger rows, in one transaction)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from journeyctl.engine.model import ContactState, Message, StepResult

# A module, not its names: it imports this package's codecs, so it may be half-loaded here.
from journeyctl.store import contact_state
from journeyctl.store.serialize import opt_datetime, to_micros
from journeyctl.store.sqlite.connection import Connection
from journeyctl.store.sqlite.events import INSERT_NEW_EVENTS, SAVE_ALL_EVENTS
from journeyctl.store.sqlite.rows import (
    HISTORY_COLUMNS,
    MESSAGE_COLUMNS,
    N_MESSAGE,
    SAVE_ENROLLMENT,
)
from journeyctl.store.sqlite_idle import DUE_CONTACT

# Contacts per `IN (...)` query (well under SQLite's 32,766 host parameters).
_IN_CHUNK = 500


class State(Connection):
    def due_contacts(self, now: datetime, limit: int | None = None) -> list[str]:
        rows = self.conn.execute(
            f"SELECT contact_id FROM contact_state WHERE {DUE_CONTACT} "
            "ORDER BY next_due, contact_id LIMIT ?2",
            (to_micros(now), -1 if limit is None else limit),
        )
        return [r[0] for r in rows]

    def wake_held(self, project_digest: str) -> int:
        """Contacts held by a failure under other project files wake now (the edit may be the
        fix; the engine decides, Engine._rearm). Returns how many."""
        with self.transaction():
            cur = self.conn.execute(
                "UPDATE contact_state SET next_due = cursor WHERE contact_id IN "
                "(SELECT contact_id FROM enrollments WHERE held IS NOT NULL AND outcome = 'active' "
                "AND substr(held, 1, length(?1)) != ?1) "
                "AND (next_due IS NULL OR next_due > cursor)",
                (project_digest,),
            )
        return int(cur.rowcount)

    def wake_all(self) -> int:
        """Every contact wakes at its cursor (a sequence that starts now must see each one:
        run.once.start_sequences). Returns how many."""
        with self.transaction():
            cur = self.conn.execute(
                "UPDATE contact_state SET next_due = cursor "
                "WHERE next_due IS NULL OR next_due > cursor"
            )
        return int(cur.rowcount)

    def next_wake(self) -> datetime | None:
        row = self.conn.execute(
            "SELECT min(next_due) FROM contact_state WHERE next_due IS NOT NULL"
        ).fetchone()
        return opt_datetime(row[0])

    def load(self, contact_id: str) -> ContactState:
        return self._load_many([contact_id], MESSAGE_COLUMNS)[0]

    def load_many(self, contact_ids: Sequence[str]) -> list[ContactState]:
        """`load` for a batch of contacts in four queries (the tick's path).

        History messages come without their rendered bodies (subject, text, html, to,
        unsubscribe URL): the engine never reads them, and they are most of a ledger row.
        """
        out: list[ContactState] = []
        for i in range(0, len(contact_ids), _IN_CHUNK):
            out += self._load_many(contact_ids[i : i + _IN_CHUNK], HISTORY_COLUMNS)
        return out

    def _load_many(self, ids: Sequence[str], message_columns: str) -> list[ContactState]:
        marks = ",".join("?" * len(ids))

        def query(sql: str, column: str) -> Iterable[tuple[Any, ...]]:
            return self.conn.execute(sql.format(ids=f"{column} IN ({marks})"), ids)

        return contact_state.load_states(query, ids, message_columns, self._loaded)

    def save(self, state: ContactState, result: StepResult) -> None:
        self.save_many([(state, result)])

    def save_many(
        self, saves: Iterable[tuple[ContactState, StepResult]], claim: datetime | None = None
    ) -> list[tuple[Message, int]]:
        """`save` for a batch of contacts: one `executemany` per table, in one transaction.
        Ledger rows keep the order of `saves` (their ids are the decision order).

        `claim`: the caller delivers the new sent messages right after this commits, so they
        are written `attempting` (claimed at `claim`, attempt 1) instead of `planned`; returns
        them. A message whose key was already in the ledger is neither written nor returned.
        """
        claim_us = None if claim is None else to_micros(claim)
        with self.transaction():
            attempting = None if claim_us is None else ("attempting", 1, claim_us)
            rows = contact_state.save_rows(saves, self._loaded, attempting)
            claimed, ledger, failed = rows.claimed, rows.ledger, rows.failed
            x = self.conn.executemany
            x(SAVE_ALL_EVENTS, rows.all_events)
            x(
                "DELETE FROM ledger WHERE contact_id = ? AND enrollment_id = ? "
                "AND state = 'failed' AND reason = 'render_error'",
                rows.rearm,
            )
            x(
                "UPDATE contact_state SET cursor = ?, next_due = ?, triggers = ?, suppressed = ? "
                "WHERE contact_id = ?",
                rows.states,
            )
            if rows.new_states:
                x(
                    "INSERT INTO contact_state(cursor, next_due, triggers, suppressed, "
                    "contact_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT(contact_id) DO UPDATE SET "
                    "cursor = excluded.cursor, next_due = excluded.next_due, "
                    "triggers = excluded.triggers, suppressed = excluded.suppressed",
                    rows.new_states,
                )
            x(SAVE_ENROLLMENT, rows.enrollments)
            x("UPDATE events SET processed = 1 WHERE id = ?", rows.done)
            if rows.fresh:
                x(INSERT_NEW_EVENTS, rows.fresh)
            last_id = self.conn.execute("SELECT max(id) FROM ledger").fetchone()[0] or 0
            changes = self.conn.total_changes
            x(
                f"INSERT OR IGNORE INTO ledger({MESSAGE_COLUMNS}, state, attempts, "
                f"next_attempt_at) VALUES ({','.join('?' * (N_MESSAGE + 3))})",
                ledger,
            )
            # Counted before any other write: the test below reads the INSERT's changes alone.
            all_in = self.conn.total_changes - changes == len(ledger)
            if failed:
                x(
                    "UPDATE ledger SET error = ? WHERE key = ? AND id > ? AND state = 'failed'",
                    [(w, k, last_id) for k, w in failed.items()],
                )
            if not claimed:
                return []
            if all_in:
                # Every row went in, with rowids last_id + 1, + 2, ... in order (SQLite
                # gives a new row max(rowid) + 1).
                ids = {row[0]: last_id + 1 + i for i, row in enumerate(ledger)}
            else:  # some keys were there already (another tick decided them): not ours
                ids = dict(self.conn.execute("SELECT key, id FROM ledger WHERE id > ?", (last_id,)))
                claimed = [m for m in claimed if m.key in ids]
            if self._run_id is not None:  # the new attempting rows are this run's claims
                self.conn.execute(
                    "UPDATE ledger SET claimed_by = ? WHERE id > ? AND state = 'attempting'",
                    (self._run_id, last_id),
                )
            for m in claimed:
                self._claimed_ids[m.key] = ids[m.key]
        return [(m, 1) for m in claimed]
