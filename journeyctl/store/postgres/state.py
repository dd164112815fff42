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

from journeyctl.data import build
from journeyctl.engine.model import ContactState, Event, Message, Status, StepResult
from journeyctl.store.postgres.connection import Connection, translate
from journeyctl.store.postgres.runs import DEAD_CLAIMER
from journeyctl.store.serialize import (
    dumps,
    from_micros,
    loads,
    memoized,
    opt_datetime,
    props_from_json,
    to_micros,
)
from journeyctl.store.sqlite.connection import Loaded
from journeyctl.store.sqlite.events import all_event_rows, events_delta
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

_set_enrolls = Event.enrolls.__set__  # type: ignore[misc, attr-defined]  # frozen slots: see data.build

# How long a due contact stays taken by the worker that claimed it, by the server's clock,
# when that worker's run cannot be told dead sooner (its advisory lock: runs.py).
LEASE_US = 10 * 60 * 1_000_000
_CHUNK = 1000

_SKIPPED = ("skipped", 0, None)
_FAILED = ("failed", 0, None)

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
        q = self.raw.execute
        wanted = list(ids)
        instant = memoized(from_micros)
        states: dict[str, ContactState] = {}
        # In a transaction the contacts' state rows stay locked until it ends: a listener
        # recording an event for one of them waits, and its wake-up lands after our save.
        lock = " ORDER BY s.contact_id FOR UPDATE OF s" if self.in_transaction else ""
        for cid, email, phone, name, tz, attrs, cursor, triggers, suppressed in q(
            "SELECT c.id, c.email, c.phone, c.name, c.timezone, c.attrs, s.cursor, s.triggers, "
            "s.suppressed FROM contacts c JOIN contact_state s ON s.contact_id = c.id "
            "WHERE c.id = ANY(%s)" + lock,
            (wanted,),
        ):
            states[cid] = ContactState(
                contact=build.contact(cid, email, phone, name, tz, loads(attrs)),
                cursor=instant(cursor),
                triggers={} if triggers == "{}" else triggers_of(triggers),
                suppressed={}
                if suppressed == "{}"
                else {k: from_micros(v) for k, v in loads(suppressed).items()},
            )
        if len(states) != len(set(wanted)):
            raise KeyError(next(cid for cid in wanted if cid not in states))
        enrollment = ENROLLMENTS.decode
        for r in q(
            f"SELECT {ENROLLMENTS.columns} FROM enrollments WHERE contact_id = ANY(%s) "
            "ORDER BY contact_id, seq",
            (wanted,),
        ):
            states[r[1]].enrollments.append(enrollment(r, instant))
        pending: dict[str, list[tuple[Event, int]]] = {}
        for eid, cid, name, at, props, enrolls, processed in q(
            "SELECT id, contact_id, event, at, props, enrolls, processed FROM events "
            "WHERE contact_id = ANY(%s) ORDER BY contact_id, at, id",
            (wanted,),
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
            f"SELECT {message_columns} FROM ledger WHERE contact_id = ANY(%s) "
            "ORDER BY contact_id, id",
            (wanted,),
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
        """As SqliteStore.save_many; the contacts' leases end with the save. New ledger rows
        whose key is stored already (another worker decided them) are left out, and only the
        rows this save inserted are returned as claimed."""
        claim_us = None if claim is None else to_micros(claim)
        claimed: list[Message] = []
        states: list[tuple[Any, ...]] = []
        new_states: list[tuple[Any, ...]] = []
        enrollments: list[tuple[Any, ...]] = []
        ledger: list[tuple[Any, ...]] = []
        done: list[tuple[int]] = []
        fresh: list[tuple[Any, ...]] = []
        all_events: list[tuple[Any, ...]] = []
        rearm: list[tuple[str, str]] = []
        failed: dict[str, str] = {}
        message_row = MESSAGES.row
        with self.transaction():
            lease_until = None
            if claim_us is not None:
                lease_until = self.server_micros() + LEASE_US
            micros = memoized(to_micros)
            attempting = ("attempting", 1, claim_us, self._run_id, lease_until)
            loaded = self._loaded
            for state, result in saves:
                cid = state.contact.id
                assert state.cursor is not None
                seen = loaded.pop(cid, None)
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
                    all_events += all_event_rows(state)
                else:
                    changed = {e.id for e in result.changed} if result.changed else ()
                    enrollments += [
                        enrollment_row(e, i, micros)
                        for i, e in enumerate(state.enrollments)
                        if e.is_active or e.id in changed
                    ]
                    events_delta(state, seen, done, fresh)
                if result.rearmed:
                    rearm += [(cid, e.id) for e in result.rearmed]
                if result.failures:
                    failed.update((m.key, why) for m, why in result.failures)
                for m in result.messages if seen is not None else state.messages:
                    if m.reason == "render_error" and m.key in failed:
                        ledger.append((*message_row(m, micros), *_FAILED, None, None))
                    elif m.status is not Status.SENT:
                        ledger.append((*message_row(m, micros), *_SKIPPED, None, None))
                    elif claim_us is None:
                        planned = ("planned", 0, micros(m.at), None, None)
                        ledger.append(message_row(m, micros) + planned)
                    else:
                        ledger.append(message_row(m, micros) + attempting)
                        claimed.append(m)
            cur = self.raw.cursor()
            x = cur.executemany
            if all_events:
                x(_SAVE_ALL_EVENTS, all_events)
            if rearm:
                x(
                    "DELETE FROM ledger WHERE contact_id = %s AND enrollment_id = %s "
                    "AND state = 'failed' AND reason = 'render_error'",
                    rearm,
                )
            if states:
                x(_SAVE_STATE, states)
            if new_states:
                x(_UPSERT_STATE, new_states)
            if enrollments:
                x(translate(SAVE_ENROLLMENT)[0], enrollments)
            if done:
                x("UPDATE events SET processed = 1 WHERE id = %s", done)
            if fresh:
                x(_INSERT_NEW_EVENTS, fresh)
            ids: dict[str, int] = {}
            if ledger:
                x(_INSERT_LEDGER, ledger, returning=True)
                while True:
                    ids.update(cur.fetchall())
                    if not cur.nextset():
                        break
            if failed:
                x(
                    "UPDATE ledger SET error = %s WHERE id = %s AND state = 'failed'",
                    [(w, ids[k]) for k, w in failed.items() if k in ids],
                )
            claimed = [m for m in claimed if m.key in ids]
        return [(m, 1) for m in claimed]
