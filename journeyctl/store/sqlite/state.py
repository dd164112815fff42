"""The engine's view: which contacts are due, loading their state and saving what the engine
decided (contact_state, enrollments, events and new ledger rows, in one transaction)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from journeyctl.data import build
from journeyctl.engine.model import ContactState, Event, Message, Status, StepResult
from journeyctl.store.serialize import (
    dumps,
    from_micros,
    loads,
    memoized,
    opt_datetime,
    props_from_json,
    to_micros,
)
from journeyctl.store.sqlite.connection import Connection, Loaded
from journeyctl.store.sqlite.events import (
    INSERT_NEW_EVENTS,
    SAVE_ALL_EVENTS,
    all_event_rows,
    events_delta,
)
from journeyctl.store.sqlite.rows import (
    ENROLLMENTS,
    HISTORY_COLUMNS,
    MESSAGE_COLUMNS,
    MESSAGES,
    N_MESSAGE,
    SAVE_ENROLLMENT,
    enrollment_row,
    triggers_json,
    triggers_of,
)
from journeyctl.store.sqlite_idle import DUE_CONTACT

_set_enrolls = Event.enrolls.__set__  # type: ignore[misc, attr-defined]  # frozen slots: see data.build

# Contacts per `IN (...)` query (well under SQLite's 32,766 host parameters).
_IN_CHUNK = 500

_SKIPPED = ("skipped", 0, None)  # state, attempts, next_attempt_at of a skipped message
_FAILED = ("failed", 0, None)  # ... of a message whose content failed to render


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
        q = self.conn.execute
        marks = ",".join("?" * len(ids))
        instant = memoized(from_micros)  # one datetime per distinct value (immutable)
        states: dict[str, ContactState] = {}
        for cid, email, phone, name, tz, attrs, cursor, triggers, suppressed in q(
            "SELECT c.id, c.email, c.phone, c.name, c.timezone, c.attrs, s.cursor, s.triggers, "
            "s.suppressed FROM contacts c JOIN contact_state s ON s.contact_id = c.id "
            f"WHERE c.id IN ({marks})",
            ids,
        ):
            # By name: the lists fill from their own tables below; the rest keep defaults.
            states[cid] = ContactState(
                contact=build.contact(cid, email, phone, name, tz, loads(attrs)),
                cursor=instant(cursor),
                triggers={} if triggers == "{}" else triggers_of(triggers),
                suppressed={}
                if suppressed == "{}"
                else {k: from_micros(v) for k, v in loads(suppressed).items()},
            )
        if len(states) != len(ids):
            raise KeyError(next(cid for cid in ids if cid not in states))
        enrollment = ENROLLMENTS.decode
        for r in q(
            f"SELECT {ENROLLMENTS.columns} FROM enrollments WHERE contact_id IN ({marks}) "
            "ORDER BY contact_id, seq",
            ids,
        ):
            states[r[1]].enrollments.append(enrollment(r, instant))
        pending: dict[str, list[tuple[Event, int]]] = {}
        for eid, cid, name, at, props, enrolls, processed in q(
            "SELECT id, contact_id, event, at, props, enrolls, processed FROM events "
            f"WHERE contact_id IN ({marks}) ORDER BY contact_id, at, id",
            ids,
        ):
            ev = build.event(cid, name, instant(at), props_from_json(props))
            if not enrolls:
                _set_enrolls(ev, False)
            if processed:
                states[cid].events.append(ev)
            else:
                states[cid].pending.append(ev)
                pending.setdefault(cid, []).append((ev, eid))
        message = MESSAGES.decode
        for r in q(
            f"SELECT {message_columns} FROM ledger WHERE contact_id IN ({marks}) "
            "ORDER BY contact_id, id",
            ids,
        ):
            states[r[1]].messages.append(message(r, instant))
        out = []
        loaded = self._loaded
        for cid in ids:
            state = states[cid]
            if state.messages:
                state.cap_times = sorted(
                    m.at for m in state.messages if m.status is Status.SENT and m.is_marketing
                )
            loaded[cid] = Loaded(pending.get(cid, []), len(state.events), len(state.messages))
            out.append(state)
        return out

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
        claimed: list[Message] = []
        states: list[tuple[Any, ...]] = []
        new_states: list[tuple[Any, ...]] = []
        enrollments: list[tuple[Any, ...]] = []
        ledger: list[tuple[Any, ...]] = []
        done: list[tuple[int]] = []
        fresh: list[tuple[Any, ...]] = []
        failed: dict[str, str] = {}  # key -> located reason (render failures)
        message_row = MESSAGES.row
        with self.transaction():
            micros = memoized(to_micros)
            attempting = ("attempting", 1, claim_us)  # claimed at `claim`, attempt 1
            loaded = self._loaded
            for state, result in saves:
                cid = state.contact.id
                assert state.cursor is not None
                seen = loaded.pop(cid, None)
                # Loaded here, so the contact_state row exists: a plain UPDATE (cheaper than
                # the upsert that a state not loaded here needs).
                (states if seen is not None else new_states).append(
                    (
                        micros(state.cursor),
                        None if result.next_due is None else micros(result.next_due),
                        triggers_json(state.triggers) if state.triggers else "{}",
                        dumps({k: to_micros(v) for k, v in state.suppressed.items()})
                        if state.suppressed
                        else "{}",
                        cid,
                    )
                )
                if seen is None:
                    enrollments += [
                        enrollment_row(e, i, micros) for i, e in enumerate(state.enrollments)
                    ]
                    self.conn.executemany(SAVE_ALL_EVENTS, all_event_rows(state))
                else:
                    changed = {e.id for e in result.changed} if result.changed else ()
                    enrollments += [
                        enrollment_row(e, i, micros)
                        for i, e in enumerate(state.enrollments)
                        if e.is_active or e.id in changed
                    ]
                    events_delta(state, seen, done, fresh)
                if result.rearmed:
                    # Tried again after a render failure: the failed row makes way.
                    self.conn.executemany(
                        "DELETE FROM ledger WHERE contact_id = ? AND enrollment_id = ? "
                        "AND state = 'failed' AND reason = 'render_error'",
                        [(cid, e.id) for e in result.rearmed],
                    )
                if result.failures:
                    failed.update((m.key, why) for m, why in result.failures)
                for m in result.messages if seen is not None else state.messages:
                    if m.reason == "render_error" and m.key in failed:
                        ledger.append(message_row(m, micros) + _FAILED)
                    elif m.status is not Status.SENT:
                        ledger.append(message_row(m, micros) + _SKIPPED)
                    elif claim_us is None:
                        ledger.append((*message_row(m, micros), "planned", 0, micros(m.at)))
                    else:
                        ledger.append(message_row(m, micros) + attempting)
                        claimed.append(m)
            x = self.conn.executemany
            x(
                "UPDATE contact_state SET cursor = ?, next_due = ?, triggers = ?, suppressed = ? "
                "WHERE contact_id = ?",
                states,
            )
            if new_states:
                x(
                    "INSERT INTO contact_state(cursor, next_due, triggers, suppressed, "
                    "contact_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT(contact_id) DO UPDATE SET "
                    "cursor = excluded.cursor, next_due = excluded.next_due, "
                    "triggers = excluded.triggers, suppressed = excluded.suppressed",
                    new_states,
                )
            x(SAVE_ENROLLMENT, enrollments)
            x("UPDATE events SET processed = 1 WHERE id = ?", done)
            if fresh:
                x(INSERT_NEW_EVENTS, fresh)
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
