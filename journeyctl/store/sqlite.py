"""SqliteStore: the Store protocol on one SQLite file (WAL, synchronous=FULL, BEGIN IMMEDIATE).

Raw `sqlite3` on purpose: the hot paths are `executemany` and `UPDATE ... RETURNING`, and an
idle cron tick should not import sqlite-utils (see docs/DECISIONS.md). Schema: migrations.py.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import fields
from datetime import datetime
from enum import Enum
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

from journeyctl import faults
from journeyctl.data import build
from journeyctl.engine.model import (
    MESSAGE_FIELDS,
    Contact,
    ContactState,
    Enrollment,
    Event,
    Message,
    Outcome,
    Status,
    StepResult,
    TriggerMark,
)
from journeyctl.errors import StoreError
from journeyctl.store.base import Delivery, LedgerRow
from journeyctl.store.environment import damaged, database_problem
from journeyctl.store.lock import HeldLock, probe
from journeyctl.store.migrations import migrate
from journeyctl.store.serialize import (
    dumps,
    from_micros,
    loads,
    memoized,
    opt_datetime,
    opt_micros,
    props_from_json,
    props_json,
    to_micros,
)
from journeyctl.store.sqlite_idle import IdleQueries

BUSY_TIMEOUT_MS = 30_000
# The row decoders below build these positionally (a hot path): fail at import, not with
# fields silently swapped, if the engine's field order changes.
_POSITIONAL = {
    Enrollment: (
        "id", "contact_id", "sequence", "version", "entered_at", "position", "due_at",
        "outcome", "ended_at", "reason", "variant", "waiting_since", "deferred_from",
        "deferred_by", "held",
    ),
    ContactState: (
        "contact", "enrollments", "events", "pending", "messages", "cursor", "triggers",
        "suppressed",
    ),
}  # fmt: skip
for _cls, _names in _POSITIONAL.items():
    if tuple(f.name for f in fields(_cls))[: len(_names)] != _names:
        raise ImportError(f"journeyctl.store.sqlite builds {_cls.__name__} by position: update it")
_set_enrolls = Event.enrolls.__set__  # type: ignore[misc, attr-defined]  # frozen slots: see data.build

# A ledger row begins with the message's fields (engine.model.MESSAGE_FIELDS), in their
# declared order, each in the column of its label: `key` holds the key made (Message.key),
# and `to` is a keyword in SQL.
_COLUMN_OF = {"to": "to_addr"}
_MESSAGE_COLUMN_NAMES = tuple(_COLUMN_OF.get(f.label, f.label) for f in MESSAGE_FIELDS)
_MESSAGE_COLUMNS = ", ".join(_MESSAGE_COLUMN_NAMES)
_N_MESSAGE = len(MESSAGE_FIELDS)
_LEDGER_COLUMNS = (
    f"{_MESSAGE_COLUMNS}, state, attempts, next_attempt_at, delivered_at, provider_id, error"
)
# History rows for the engine (load_many): the message columns with the bodies left NULL.
_HISTORY_COLUMNS = ", ".join(
    c if f.history else "NULL" for f, c in zip(MESSAGE_FIELDS, _MESSAGE_COLUMN_NAMES, strict=True)
)
# Contacts per `IN (...)` query (well under SQLite's 32,766 host parameters).
_IN_CHUNK = 500
_ENROLLMENT_COLUMNS = (
    "id, contact_id, sequence, version, entered_at, position, due_at, outcome, ended_at, "
    "reason, variant, waiting_since, deferred_from, deferred_by, held, seq"
)


# An upsert, not INSERT OR REPLACE: an enrollment that moved on is updated in place, so
# only the indexes whose columns changed are touched (REPLACE deletes and re-inserts).
_SAVE_ENROLLMENT = (
    f"INSERT INTO enrollments({_ENROLLMENT_COLUMNS}) VALUES ({','.join('?' * 16)}) "
    "ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}"
        for c in (c.strip() for c in _ENROLLMENT_COLUMNS.split(","))
        if c != "id"
    )
)


_SKIPPED = ("skipped", 0, None)  # state, attempts, next_attempt_at of a skipped message
_FAILED = ("failed", 0, None)  # ... of a message whose content failed to render


_message_values = attrgetter(*(f.label for f in MESSAGE_FIELDS))
# Where a row's value is not the field's own: instants (integer microseconds), enum members
# (their values), booleans (SQLite gives back 0 and 1).
_INSTANTS = tuple(i for i, f in enumerate(MESSAGE_FIELDS) if f.type is datetime)
_ENUMS = tuple(
    (i, {m.value: m for m in f.type})  # type: ignore[attr-defined]
    for i, f in enumerate(MESSAGE_FIELDS)
    if issubclass(f.type, Enum)
)
_BOOLS = tuple(i for i, f in enumerate(MESSAGE_FIELDS) if f.type is bool)


def _message_row(m: Message, micros: Callable[[datetime], int] = to_micros) -> tuple[Any, ...]:
    row = list(_message_values(m))
    for i in _INSTANTS:
        if row[i] is not None:
            row[i] = micros(row[i])
    for i, _ in _ENUMS:
        if row[i] is not None:
            row[i] = row[i].value
    return tuple(row)


def _message(
    r: tuple[Any, ...] | sqlite3.Row, instant: Callable[[int], datetime] = from_micros
) -> Message:
    """The message of a row's first _N_MESSAGE columns (every history message of every
    loaded contact comes through here)."""
    values = list(r)
    for i in _INSTANTS:
        if values[i] is not None:
            values[i] = instant(values[i])
    for i, members in _ENUMS:
        if values[i] is not None:
            values[i] = members[values[i]]
    for i in _BOOLS:
        if values[i] is not None:
            values[i] = bool(values[i])
    return Message(*values)


def _enrollment_row(
    e: Enrollment, seq: int, micros: Callable[[datetime], int] = to_micros
) -> tuple[Any, ...]:
    return (
        e.id, e.contact_id, e.sequence, e.version, micros(e.entered_at), e.position,
        None if e.due_at is None else micros(e.due_at), str(e.outcome),
        None if e.ended_at is None else micros(e.ended_at), e.reason, e.variant,
        None if e.waiting_since is None else micros(e.waiting_since),
        None if e.deferred_from is None else micros(e.deferred_from), e.deferred_by, e.held,
        seq,
    )  # fmt: skip


_OUTCOME = {o.value: o for o in Outcome}


def _enrollment(r: tuple[Any, ...], instant: Callable[[int], datetime] = from_micros) -> Enrollment:
    # Positional, in field order (the last column, seq, is only the row's order).
    return Enrollment(
        r[0], r[1], r[2], r[3], instant(r[4]), r[5], None if r[6] is None else instant(r[6]),
        _OUTCOME[r[7]], None if r[8] is None else instant(r[8]), r[9], r[10],
        None if r[11] is None else instant(r[11]), None if r[12] is None else instant(r[12]),
        r[13], r[14],
    )  # fmt: skip


def _triggers_json(triggers: dict[str, TriggerMark]) -> str:
    return dumps({k: [opt_micros(m.checked_at), m.value] for k, m in triggers.items()})


def _triggers(text: str) -> dict[str, TriggerMark]:
    return {k: TriggerMark(opt_datetime(c), v) for k, (c, v) in loads(text).items()}


class _Loaded(NamedTuple):
    """What `load` saw, so `save` writes only the difference (the hot path)."""

    pending: list[tuple[Event, int]]  # (event, events.id), in load order
    processed: int
    messages: int


def _create_private(path: Path) -> None:
    """Create a missing database file readable by its owner only (0600): it holds contacts'
    addresses and what was sent to them. SQLite gives the -wal and -shm files the mode of the
    database file. An existing file keeps its mode (the owner chose it)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # a missing directory, a read-only one: sqlite3.connect says so (environment.py)
    os.close(fd)


def _check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    """`PRAGMA quick_check` at every open: a damaged page is found before anything is written
    (run and status used to exit 0 on a file whose unread pages were garbage). It reads the
    whole file once, linear in its size (~0.4 s for 260 MB, warm); the idle fast path skips it
    (docs/DECISIONS.md, "Environment errors are not bugs")."""
    rows = conn.execute("PRAGMA quick_check(1)").fetchall()
    if rows != [("ok",)]:
        text = str(rows[0][0]) if rows else "no answer from quick_check"
        # "*** in database main ***\nPage 13: btreeInitPage() returns error code 11": one line
        detail = "; ".join(x for x in text.splitlines() if not x.startswith("***")) or text
        raise StoreError(damaged(path, detail))


def _stamp_path(path: Path) -> Path:
    return Path(os.path.realpath(path) + ".checked")


def _file_stamp(path: Path) -> str:
    st = os.stat(path)
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def _unchanged_since_checked(path: Path) -> bool:
    """Whether the file is byte for byte as a checked run left it: same inode, size and
    modification time as recorded when that run closed it (`SqliteStore.close`)."""
    try:
        return _stamp_path(path).read_text(encoding="ascii") == _file_stamp(path)
    except (OSError, UnicodeDecodeError):
        return False


def _connect(path: Path, busy_timeout_ms: int, stamped: bool = False) -> sqlite3.Connection:
    """Open, check and migrate; any failure is a StoreError naming the file (exit 1) and leaves
    the file as it was.

    `stamped`: skip the full check when the file is exactly as the last checked run left it
    (`run` passes True: the check reads the whole file, seconds at 10M history rows, and a
    cron minute with work must stay flat in the history's size). Anything that touched the
    file since (another program, a torn copy, a disk error written back) changes its stamp,
    and the next open checks it all again."""
    _create_private(path)
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=busy_timeout_ms / 1000)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if not (stamped and _unchanged_since_checked(path)):
            _check_integrity(conn, path)  # before the first write (the WAL switch, a migration)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise StoreError(f"{path}: cannot switch the database to WAL mode ({mode})")
        # The ledger is the record of what reached the outside world: fsync every commit.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        problem = database_problem(path, exc)
        raise StoreError(problem or f"{path}: cannot open the database: {exc}") from None
    except StoreError as exc:
        if conn is not None:
            conn.close()
        text = str(exc)
        raise StoreError(text if text.startswith(str(path)) else f"{path}: {text}") from None
    return conn


class SqliteStore(IdleQueries):
    def __init__(
        self,
        path: Path | str,
        *,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        stamped: bool = False,
    ) -> None:
        self.path = Path(path)
        self.stamped = stamped  # see _connect; close() records the stamp
        self.conn = _connect(self.path, busy_timeout_ms, stamped)
        self._depth = 0
        self._loaded: dict[str, _Loaded] = {}
        # Ledger row ids of messages this connection claimed, so `mark_sent_many` updates by
        # rowid instead of searching the key index (checked against the key all the same).
        self._claimed_ids: dict[str, int] = {}
        # The run this connection works for (begin_run): its claims carry its id, and the
        # run lock it holds tells recovery which other runs are dead (stale_attempts).
        self._run_id: int | None = None
        self._lock: HeldLock | None = None

    def close(self) -> None:
        self.conn.close()
        if self.stamped:
            # After the close (the last connection checkpoints the WAL into the file): the
            # next run skips the full check while the file stays exactly like this.
            try:
                _stamp_path(self.path).write_text(_file_stamp(self.path), encoding="ascii")
            except OSError:
                pass  # a read-only directory: the next run checks again

    # --- transactions -------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction; re-entrant (inner ones join the outer one)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")  # take the write lock now, not at the first write
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            if self.conn.in_transaction:  # SQLite rolls back by itself on a full disk, I/O error
                self.conn.execute("ROLLBACK")
            self._loaded.clear()
            self._claimed_ids.clear()
            raise
        self._depth = 0
        self.conn.execute("COMMIT")

    @contextlib.contextmanager
    def rollback_only(self) -> Iterator[None]:
        """Everything inside happens in one transaction that is rolled back (`run --dry-run`)."""
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        finally:
            self._depth = 0
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self._loaded.clear()
            self._claimed_ids.clear()

    # --- imports ------------------------------------------------------------------------

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

    # --- the engine's view ----------------------------------------------------------------

    def due_contacts(self, now: datetime, limit: int | None = None) -> list[str]:
        rows = self.conn.execute(
            "SELECT contact_id FROM contact_state WHERE next_due IS NOT NULL AND next_due <= ? "
            "ORDER BY next_due, contact_id LIMIT ?",
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
        return self._load_many([contact_id], _MESSAGE_COLUMNS)[0]

    def load_many(self, contact_ids: Sequence[str]) -> list[ContactState]:
        """`load` for a batch of contacts in four queries (the tick's path).

        History messages come without their rendered bodies (subject, text, html, to,
        unsubscribe URL): the engine never reads them, and they are most of a ledger row.
        """
        out: list[ContactState] = []
        for i in range(0, len(contact_ids), _IN_CHUNK):
            out += self._load_many(contact_ids[i : i + _IN_CHUNK], _HISTORY_COLUMNS)
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
            # Positional, in field order: contact, enrollments, events, pending, messages,
            # cursor, triggers, suppressed (the rest keep their defaults).
            states[cid] = ContactState(
                build.contact(cid, email, phone, name, tz, loads(attrs)),
                [],
                [],
                [],
                [],
                instant(cursor),
                {} if triggers == "{}" else _triggers(triggers),
                {}
                if suppressed == "{}"
                else {k: from_micros(v) for k, v in loads(suppressed).items()},
            )
        if len(states) != len(ids):
            raise KeyError(next(cid for cid in ids if cid not in states))
        for r in q(
            f"SELECT {_ENROLLMENT_COLUMNS} FROM enrollments WHERE contact_id IN ({marks}) "
            "ORDER BY contact_id, seq",
            ids,
        ):
            states[r[1]].enrollments.append(_enrollment(r, instant))
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
        for r in q(
            f"SELECT {message_columns} FROM ledger WHERE contact_id IN ({marks}) "
            "ORDER BY contact_id, id",
            ids,
        ):
            states[r[1]].messages.append(_message(r, instant))
        out = []
        loaded = self._loaded
        for cid in ids:
            state = states[cid]
            if state.messages:
                state.cap_times = sorted(
                    m.at for m in state.messages if m.status is Status.SENT and m.is_marketing
                )
            loaded[cid] = _Loaded(pending.get(cid, []), len(state.events), len(state.messages))
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
                        _triggers_json(state.triggers) if state.triggers else "{}",
                        dumps({k: to_micros(v) for k, v in state.suppressed.items()})
                        if state.suppressed
                        else "{}",
                        cid,
                    )
                )
                if seen is None:
                    enrollments += [
                        _enrollment_row(e, i, micros) for i, e in enumerate(state.enrollments)
                    ]
                    self._save_all_events(state)
                else:
                    changed = {e.id for e in result.changed} if result.changed else ()
                    enrollments += [
                        _enrollment_row(e, i, micros)
                        for i, e in enumerate(state.enrollments)
                        if e.is_active or e.id in changed
                    ]
                    self._events_delta(state, seen, done, fresh)
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
                        ledger.append(_message_row(m, micros) + _FAILED)
                    elif m.status is not Status.SENT:
                        ledger.append(_message_row(m, micros) + _SKIPPED)
                    elif claim_us is None:
                        ledger.append((*_message_row(m, micros), "planned", 0, micros(m.at)))
                    else:
                        ledger.append(_message_row(m, micros) + attempting)
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
            x(_SAVE_ENROLLMENT, enrollments)
            x("UPDATE events SET processed = 1 WHERE id = ?", done)
            if fresh:
                x(
                    "INSERT OR IGNORE INTO events(contact_id, event, at, props, enrolls, "
                    "processed) VALUES (?, ?, ?, ?, ?, ?)",
                    fresh,
                )
            last_id = self.conn.execute("SELECT max(id) FROM ledger").fetchone()[0] or 0
            changes = self.conn.total_changes
            x(
                f"INSERT OR IGNORE INTO ledger({_MESSAGE_COLUMNS}, state, attempts, "
                f"next_attempt_at) VALUES ({','.join('?' * (_N_MESSAGE + 3))})",
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

    def _save_all_events(self, state: ContactState) -> None:
        """A state not loaded here: write every event with its processed flag."""
        cid = state.contact.id
        rows = [(e, 1) for e in state.events] + [(e, 0) for e in state.pending]
        self.conn.executemany(
            "INSERT INTO events(contact_id, event, at, props, enrolls, processed) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET processed = excluded.processed",
            [
                (cid, e.name, to_micros(e.at), props_json(e.props), int(e.enrolls), p)
                for e, p in rows
            ],
        )

    @staticmethod
    def _events_delta(
        state: ContactState,
        seen: _Loaded,
        done: list[tuple[int]],
        fresh: list[tuple[Any, ...]],
    ) -> None:
        """Rows for what changed since `load`: events now processed, events not stored yet."""
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
            # Events the engine created itself (simulate --assume) or history set on the state.
            known = {e.natural_key for e, _ in seen.pending}
            new = [(e, 0) for e in state.pending if e.natural_key not in known]
            if len(state.events) > seen.processed + ndone:
                new += [(e, 1) for e in state.events]
        cid = state.contact.id
        fresh += [
            (cid, e.name, to_micros(e.at), props_json(e.props), int(e.enrolls), p) for e, p in new
        ]

    # --- the delivery ledger --------------------------------------------------------------

    def claim_deliveries(
        self, now: datetime, limit: int | None = None
    ) -> list[tuple[Message, int]]:
        """One statement under the write lock: a row is claimed by exactly one tick.

        `INDEXED BY` (here and in stale_attempts): with `ORDER BY id` the planner preferred
        scanning the whole ledger in rowid order, a cost that grows with history; the partial
        index holds only claimable (attempting) rows, sorted afterwards."""
        now_us = to_micros(now)
        with self.transaction():
            rows = self.conn.execute(
                "UPDATE ledger SET state = 'attempting', attempts = attempts + 1, "
                "next_attempt_at = ?1, claimed_by = ?3 WHERE id IN (SELECT id FROM ledger "
                "INDEXED BY ledger_claimable WHERE state IN ('planned', 'retry') "
                "AND next_attempt_at <= ?1 ORDER BY id LIMIT ?2) "
                f"RETURNING id, attempts, {_MESSAGE_COLUMNS}",
                (now_us, -1 if limit is None else limit, self._run_id),
            ).fetchall()
        faults.point("claim")
        rows.sort(key=lambda r: r[0])  # RETURNING order is unspecified: decision order
        for r in rows:
            self._claimed_ids[r[2]] = r[0]
        return [(_message(r[2:]), r[1]) for r in rows]

    def stale_attempts(self, claimed_before: datetime | None) -> list[Message]:
        """Rows left `attempting` by a tick that died, never a live run's.

        A row claimed by a recorded run (`claimed_by`) is orphaned once that run is known to
        be dead (`_dead_runs`) and never while it is known to be alive, whatever the times.
        Otherwise (claimed outside a recorded run, or by a run whose state cannot be told):
        claimed at or before `claimed_before`; None: all of them (the caller holds the lock).
        """
        rows = self.conn.execute(
            f"SELECT {_MESSAGE_COLUMNS}, claimed_by, next_attempt_at FROM ledger "
            "INDEXED BY ledger_attempting WHERE state = 'attempting' ORDER BY id"
        ).fetchall()
        if not rows:
            return []
        runs = self._dead_runs({r[-2] for r in rows if r[-2] is not None})
        cutoff = None if claimed_before is None else to_micros(claimed_before)
        out = []
        for r in rows:
            dead = runs.get(r[-2]) if r[-2] is not None else None
            if dead or (dead is None and (cutoff is None or r[-1] <= cutoff)):
                out.append(_message(r[:-2]))
        return out

    def _dead_runs(self, run_ids: set[int]) -> dict[int, bool | None]:
        """For each run: True when it is known to be dead, False when known to be alive, None
        when that cannot be told. A run that finished is dead; one that holds no run lock any
        more is dead (the kernel drops a dead process's flock); so is one that held the lock
        this connection's run holds now. A run elsewhere (another host sharing the file) or
        whose lock file is gone is told by its process id at most (docs/DECISIONS.md)."""
        out: dict[int, bool | None] = dict.fromkeys(run_ids)
        if not run_ids:
            return out
        held, host = self._lock, os.uname().nodename
        marks = ",".join("?" * len(run_ids))
        for run_id, finished, pid, where, path, ident in self.conn.execute(
            f"SELECT id, finished_at, pid, host, lock_path, lock_id FROM runs WHERE id IN ({marks})",
            tuple(run_ids),
        ):
            if run_id == self._run_id:
                out[run_id] = False  # this very run
            elif finished is not None:
                out[run_id] = True
            elif held is not None and ident == held.identity:
                out[run_id] = True  # we hold the lock it held: its process is gone
            elif where == host and path and ident:
                holding = probe(path, ident)
                out[run_id] = (not holding) if holding is not None else _pid_dead(pid)
        return out

    def mark_sent(self, key: str, delivered_at: datetime, provider_id: str | None = None) -> None:
        self._claimed_ids.pop(key, None)
        self.conn.execute(
            "UPDATE ledger SET state = 'sent', delivered_at = ?, provider_id = ?, error = NULL, "
            "next_attempt_at = NULL WHERE key = ?",
            (to_micros(delivered_at), provider_id, key),
        )

    def mark_sent_many(
        self, receipts: Iterable[tuple[str, str | None]], delivered_at: datetime
    ) -> None:
        """`mark_sent` for (key, provider id) pairs in one statement (not a transaction)."""
        at = to_micros(delivered_at)
        ids = self._claimed_ids
        by_id = []
        by_key = []
        for key, pid in receipts:
            rowid = ids.pop(key, None)
            if rowid is None:
                by_key.append((at, pid, key))
            else:
                by_id.append((at, pid, key, rowid))
        sql = (
            "UPDATE ledger SET state = 'sent', delivered_at = ?1, provider_id = ?2, "
            "error = NULL, next_attempt_at = NULL WHERE "
        )
        if by_id:
            cur = self.conn.executemany(sql + "id = ?4 AND key = ?3", by_id)
            if cur.rowcount != len(by_id):  # never expected; the key decides
                by_key += [r[:3] for r in by_id]
        if by_key:
            self.conn.executemany(sql + "key = ?3", by_key)

    def mark_retry(self, key: str, next_attempt_at: datetime, error: str) -> None:
        self._claimed_ids.pop(key, None)
        self.conn.execute(
            "UPDATE ledger SET state = 'retry', next_attempt_at = ?, error = ? WHERE key = ?",
            (to_micros(next_attempt_at), error, key),
        )

    def mark_failed(self, key: str, error: str) -> None:
        self._claimed_ids.pop(key, None)
        self.conn.execute(
            "UPDATE ledger SET state = 'failed', next_attempt_at = NULL, error = ? WHERE key = ?",
            (error, key),
        )

    def ledger(self) -> Iterator[LedgerRow]:
        rows = self.conn.execute(f"SELECT {_LEDGER_COLUMNS} FROM ledger ORDER BY id").fetchall()
        for r in rows:
            state, attempts, next_attempt_at, delivered_at, _, error = r[_N_MESSAGE:]
            yield LedgerRow(
                message=_message(r[:_N_MESSAGE]),
                state=Delivery(state),
                attempts=attempts,
                next_attempt_at=opt_datetime(next_attempt_at),
                delivered_at=opt_datetime(delivered_at),
                error=error,
            )

    # --- runs and settings ------------------------------------------------------------------

    def begin_run(
        self,
        started_at: datetime,
        now: datetime,
        *,
        dry_run: bool = False,
        lock: HeldLock | None = None,
    ) -> int:
        """Record a run; this connection's claims belong to it until `finish_run`. `lock`: the
        run lock it holds, recorded so other runs can tell whether it is alive."""
        cur = self.conn.execute(
            "INSERT INTO runs(started_at, now, dry_run, pid, host, lock_path, lock_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                to_micros(started_at),
                to_micros(now),
                int(dry_run),
                os.getpid(),
                os.uname().nodename,
                None if lock is None else lock.path,
                None if lock is None else lock.identity,
            ),
        )
        self._run_id, self._lock = int(cur.lastrowid or 0), lock
        return self._run_id

    def finish_run(
        self,
        run_id: int,
        finished_at: datetime,
        counts: dict[str, int],
        exit_code: int,
        error: str | None = None,
    ) -> None:
        if run_id == self._run_id:
            self._run_id = self._lock = None
        cols = ("contacts", "decided", "skipped", "delivered", "retrying", "failed", "recovered")
        self.conn.execute(
            f"UPDATE runs SET finished_at = ?, exit_code = ?, error = ?, "
            f"{', '.join(f'{c} = ?' for c in cols)} WHERE id = ?",
            (
                to_micros(finished_at),
                exit_code,
                error,
                *(counts.get(c, 0) for c in cols),
                run_id,
            ),
        )

    def set_meta(self, name: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta(name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def get_meta(self, name: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])


def _pid_dead(pid: int | None) -> bool | None:
    """A process id on this host: True when no such process exists; None otherwise (it may be
    the run, or another process that reused the id)."""
    if pid is None or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return None
    return None
