"""Read-only questions about a SQLite store, for `status` and `messages`. Plain data out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from journeyctl.engine.model import Message
from journeyctl.store.serialize import opt_datetime, to_micros
from journeyctl.store.sqlite import _MESSAGE_COLUMNS, SqliteStore, _message


@dataclass
class Problem:
    message: Message
    attempts: int
    error: str | None
    next_attempt_at: datetime | None = None


@dataclass
class Status:
    active: list[tuple[str, str | None, int]] = field(default_factory=list)  # seq, step, n
    ended: list[tuple[str, str, int]] = field(default_factory=list)  # seq, outcome, n
    due_contacts: int = 0
    deliveries: dict[str, int] = field(default_factory=dict)  # ledger state -> count
    retrying: list[Problem] = field(default_factory=list)
    failed: list[Problem] = field(default_factory=list)
    last_run: dict[str, Any] | None = None


def status(store: SqliteStore, now: datetime, *, limit: int = 50) -> Status:
    q = store.conn.execute
    out = Status()
    out.active = [
        (r[0], r[1], r[2])
        for r in q(
            "SELECT sequence, position, count(*) FROM enrollments WHERE outcome = 'active' "
            "GROUP BY sequence, position ORDER BY sequence, position"
        )
    ]
    out.ended = [
        (r[0], r[1], r[2])
        for r in q(
            "SELECT sequence, outcome, count(*) FROM enrollments WHERE outcome != 'active' "
            "GROUP BY sequence, outcome ORDER BY sequence, outcome"
        )
    ]
    out.due_contacts = q(
        "SELECT count(*) FROM contact_state WHERE next_due IS NOT NULL AND next_due <= ?",
        (to_micros(now),),
    ).fetchone()[0]
    out.deliveries = {r[0]: r[1] for r in q("SELECT state, count(*) FROM ledger GROUP BY state")}
    for state, target in (("retry", out.retrying), ("failed", out.failed)):
        for r in q(
            f"SELECT attempts, error, next_attempt_at, {_MESSAGE_COLUMNS} FROM ledger "
            "WHERE state = ? ORDER BY id DESC LIMIT ?",
            (state, limit),
        ):
            target.append(Problem(_message(r[3:]), r[0], r[1], opt_datetime(r[2])))
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


@dataclass
class Delivered:
    message: Message
    delivered_at: datetime
    timezone: str | None  # the contact's own zone, if any


def delivered(
    store: SqliteStore, *, contact: str | None = None, sequence: str | None = None
) -> list[Delivered]:
    """Messages the channels accepted, in decision order."""
    where, params = ["l.state = 'sent'"], []
    if contact is not None:
        where.append("l.contact_id = ?")
        params.append(contact)
    if sequence is not None:
        where.append("l.sequence = ?")
        params.append(sequence)
    cols = ", ".join(f"l.{c.strip()}" for c in _MESSAGE_COLUMNS.split(","))
    rows = store.conn.execute(
        f"SELECT l.delivered_at, c.timezone, {cols} FROM ledger l "
        f"LEFT JOIN contacts c ON c.id = l.contact_id WHERE {' AND '.join(where)} ORDER BY l.id",
        params,
    )
    out = []
    for r in rows:
        at = opt_datetime(r[0])
        assert at is not None
        out.append(Delivered(_message(r[2:]), at, r[1]))
    return out
