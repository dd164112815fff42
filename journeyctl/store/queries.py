"""Read-only questions about a store, for `status`, `messages` and `explain --db`; the SQL is
written once for SQLite and PostgreSQL (the PostgreSQL store's `conn` takes sqlite3's
parameters: store/postgres/connection.py). Plain data out."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from journeyctl.engine.model import Message
from journeyctl.store.serialize import opt_datetime, to_micros
from journeyctl.store.sqlite.rows import MESSAGE_COLUMNS, MESSAGES

if TYPE_CHECKING:
    from journeyctl.store.open import OpenStore


@dataclass
class Problem:
    message: Message
    attempts: int
    error: str | None
    next_attempt_at: datetime | None = None


@dataclass
class StatusReport:
    """What `journeyctl status` reports of a database (a message's own status is
    engine.model.Status)."""

    active: list[tuple[str, str | None, int]] = field(default_factory=list)  # seq, step, n
    ended: list[tuple[str, str, int]] = field(default_factory=list)  # seq, outcome, n
    due_contacts: int = 0
    deliveries: dict[str, int] = field(default_factory=dict)  # ledger state -> count
    retrying: list[Problem] = field(default_factory=list)
    failed: list[Problem] = field(default_factory=list)
    # Enrollments held at a step that fails for the contact's data (Enrollment.held): contact,
    # sequence, step, the located reason. Tried again when the data or the project changes.
    held: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    held_total: int = 0
    # Sequences the last run found paused (`paused: true`), each with its enrollments holding
    # their place; also any sequence with enrollments still held as paused.
    paused: list[tuple[str, int]] = field(default_factory=list)
    last_run: dict[str, Any] | None = None


def _scalar(cursor: Any) -> Any:
    """The one value a one-row query returns."""
    row = cursor.fetchone()
    assert row is not None
    return row[0]


def status(store: OpenStore, now: datetime, *, limit: int = 50) -> StatusReport:
    q = store.conn.execute
    out = StatusReport()
    out.active = [
        (r[0], r[1], r[2])
        for r in q(
            "SELECT sequence, position, count(*) FROM enrollments WHERE outcome = 'active' "
            "GROUP BY sequence, position ORDER BY sequence, position NULLS FIRST"
        )
    ]
    out.ended = [
        (r[0], r[1], r[2])
        for r in q(
            "SELECT sequence, outcome, count(*) FROM enrollments WHERE outcome != 'active' "
            "GROUP BY sequence, outcome ORDER BY sequence, outcome"
        )
    ]
    out.due_contacts = _scalar(
        q(
            "SELECT count(*) FROM contact_state WHERE next_due IS NOT NULL AND next_due <= ?",
            (to_micros(now),),
        )
    )
    out.deliveries = {
        r[0]: r[1] for r in q("SELECT state, count(*) FROM ledger GROUP BY state ORDER BY state")
    }
    for state, target in (("retry", out.retrying), ("failed", out.failed)):
        for r in q(
            f"SELECT attempts, error, next_attempt_at, {MESSAGE_COLUMNS} FROM ledger "
            "WHERE state = ? ORDER BY id DESC LIMIT ?",
            (state, limit),
        ):
            target.append(Problem(MESSAGES.decode(r[3:]), r[0], r[1], opt_datetime(r[2])))
    # Held by a failure; those holding their place in a paused sequence are listed as paused.
    failed_hold = "held IS NOT NULL AND outcome = 'active' AND coalesce(reason, '') != 'paused'"
    out.held_total = _scalar(q(f"SELECT count(*) FROM enrollments WHERE {failed_hold}"))
    out.held = [
        (r[0], r[1], r[2], r[3])
        for r in q(
            "SELECT contact_id, sequence, position, reason FROM enrollments "
            f"WHERE {failed_hold} ORDER BY contact_id, sequence LIMIT ?",
            (limit,),
        )
    ]
    holding = {
        r[0]: r[1]
        for r in q(
            "SELECT sequence, count(*) FROM enrollments WHERE held IS NOT NULL "
            "AND outcome = 'active' AND reason = 'paused' GROUP BY sequence ORDER BY sequence"
        )
    }
    named = [s for s in (store.get_meta("paused") or "").split(",") if s]
    out.paused = [(s, holding.get(s, 0)) for s in sorted(set(named) | set(holding))]
    row = q(
        "SELECT id, started_at, now, finished_at, exit_code, delivered, failed, error "
        "FROM runs WHERE dry_run = 0 ORDER BY id DESC LIMIT 1"
    ).fetchone()
    if row is not None:
        out.last_run = {
            "id": row[0],
            "started_at": opt_datetime(row[1]),
            "now": opt_datetime(row[2]),
            "finished_at": opt_datetime(row[3]),
            "exit_code": row[4],
            "delivered": row[5],
            "failed": row[6],
            "error": row[7],
        }
    return out


# The word `messages`, `explain` and their JSON use for each ledger state (docs/run.md).
STATUS_OF_STATE = {
    "sent": "sent",
    "failed": "failed",
    "retry": "retrying",
    "skipped": "skipped",
    "planned": "pending",
    "attempting": "attempting",
}
STATES_OF_STATUS = {word: state for state, word in STATUS_OF_STATE.items()}


@dataclass
class Stored:
    """One ledger row: the engine's message and what delivery made of it."""

    message: Message
    status: str  # a STATUS_OF_STATE word: sent, failed, retrying, skipped, pending, attempting
    attempts: int
    next_attempt_at: datetime | None  # retrying: the next attempt; pending/attempting: see docs
    delivered_at: datetime | None  # sent: when the channel accepted it
    error: str | None  # failed, retrying: the channel's (or the renderer's) last error
    timezone: str | None  # the contact's own zone, if any


# Ledger rows read from the database at a time when they are streamed (`messages --format
# json`): what is held is one batch, whatever the size of the ledger.
BATCH = 1000


def stored_messages(
    store: OpenStore,
    *,
    statuses: Iterable[str] | None = ("sent",),
    contact: str | None = None,
    sequence: str | None = None,
    since: datetime | None = None,
) -> list[Stored]:
    """Ledger rows in decision order: those of `statuses` (STATUS_OF_STATE words; None: all),
    of one contact or sequence, whose message time `at` is at or after `since`."""
    sql, params = _messages_query(statuses, contact, sequence, since)
    return [_stored(r) for r in store.conn.execute(sql, params)]


def iter_stored_messages(
    store: OpenStore,
    *,
    statuses: Iterable[str] | None = ("sent",),
    contact: str | None = None,
    sequence: str | None = None,
    since: datetime | None = None,
) -> Iterator[Stored]:
    """`stored_messages` as they are read, BATCH rows at a time (`batches`)."""
    sql, params = _messages_query(statuses, contact, sequence, since)
    for rows in batches(store, sql, params, BATCH):
        for r in rows:
            yield _stored(r)


def batches(store: OpenStore, sql: str, params: Sequence[Any], size: int) -> Iterator[list[Any]]:
    """The rows of a read-only query, `size` at a time, never the whole result at once.
    SQLite steps its cursor as it is fetched from; PostgreSQL's ordinary cursor would take the
    whole result into the client at `execute`, so a server-side cursor is used there."""
    if isinstance(store.conn, sqlite3.Connection):
        cur = store.conn.execute(sql, params)
        while rows := cur.fetchmany(size):
            yield rows
        return
    yield from store.conn.batches(sql, params, size)


def _messages_query(
    statuses: Iterable[str] | None,
    contact: str | None,
    sequence: str | None,
    since: datetime | None,
) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if statuses is not None:
        states = [STATES_OF_STATUS[w] for w in statuses]
        where.append(f"l.state IN ({','.join('?' * len(states))})")
        params += states
    if contact is not None:
        where.append("l.contact_id = ?")
        params.append(contact)
    if sequence is not None:
        where.append("l.sequence = ?")
        params.append(sequence)
    if since is not None:
        where.append("l.at >= ?")
        params.append(to_micros(since))
    cols = ", ".join(f"l.{c}" for c in MESSAGES.column_names)
    sql = (
        "SELECT l.state, l.attempts, l.next_attempt_at, l.delivered_at, l.error, c.timezone, "
        f"{cols} FROM ledger l LEFT JOIN contacts c ON c.id = l.contact_id"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + " ORDER BY l.id"
    )
    return sql, params


def _stored(r: tuple[Any, ...]) -> Stored:
    status = STATUS_OF_STATE.get(r[0], r[0])
    at, delivered_at = opt_datetime(r[2]), opt_datetime(r[3])
    return Stored(MESSAGES.decode(r[6:]), status, r[1], at, delivered_at, r[4], r[5])


def last_run_clock(store: OpenStore) -> datetime | None:
    """The clock (`now`) of the last run that was not a dry run, or None before any."""
    row = store.conn.execute(
        "SELECT now FROM runs WHERE dry_run = 0 ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return None if row is None else opt_datetime(row[0])
