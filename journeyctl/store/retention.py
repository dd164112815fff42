"""Ledger retention: `journeyctl db prune --before T`, the same SQL on SQLite and PostgreSQL.

What goes (docs/decisions/postgres-ops.md, "db prune: what may go"):

- a ledger row whose delivery is final (sent, failed, skipped), decided and delivered before
  T, of an enrollment that ended before T. Its idempotency key hashes (contact, sequence,
  enrollment, step), and an ended enrollment never takes another step, so the key can never
  be decided again. Rows of active enrollments (held ones too) and rows still to deliver
  (planned, attempting, retry) stay whatever their age, and so does a row whose enrollment
  is not in the database (nothing says it ended).
- a `runs` row of a finished run whose clock (`now`) was before T, except the latest run (`status` shows it)
  and any run that still has a claim (`attempting`) in the ledger.
- with `events=True` only: processed events that happened before T.

Never: contacts, their state, enrollments (what `reentry` reads), pending events, `meta`.
Everything happens in one transaction; `dry_run` counts the same rows and deletes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class Sql(Protocol):
    """The connection a store keeps as `conn`, taking sqlite3's `?` parameters (SQLite's
    own; the PostgreSQL store's translates them)."""

    def execute(self, sql: Any, params: Any = ...) -> Any: ...


# `:t` is the cut-off, in the store's integer epoch microseconds.
_ENDED_BEFORE = (
    "SELECT id FROM enrollments WHERE outcome <> 'active' AND ended_at IS NOT NULL "
    "AND ended_at < :t"
)
_LEDGER = (
    "state IN ('sent', 'failed', 'skipped') AND at < :t "
    "AND (delivered_at IS NULL OR delivered_at < :t) "
    f"AND enrollment_id IN ({_ENDED_BEFORE})"
)
# Older than T but kept: a delivery still to make, or an enrollment that may still step.
_LEDGER_KEPT = f"at < :t AND NOT ({_LEDGER})"
_RUNS = (
    "finished_at IS NOT NULL AND now < :t "
    "AND id <> (SELECT max(id) FROM runs) "
    "AND id NOT IN (SELECT claimed_by FROM ledger WHERE state = 'attempting' "
    "AND claimed_by IS NOT NULL)"
)
_EVENTS = "processed = 1 AND at < :t"


@dataclass(frozen=True)
class Pruned:
    """What a prune removed (or, dry, would remove); None: that table was not pruned."""

    ledger: int
    runs: int
    events: int | None
    ledger_kept: int  # ledger rows older than T that had to stay (see the module's docstring)


def _bind(sql: str, t: int) -> tuple[str, tuple[int, ...]]:
    """`:t` as `?` parameters, one value each."""
    return sql.replace(":t", "?"), (t,) * sql.count(":t")


def _count(conn: Sql, table: str, where: str, t: int) -> int:
    sql, params = _bind(f"SELECT count(*) FROM {table} WHERE {where}", t)
    return int(conn.execute(sql, params).fetchone()[0])


def _delete(conn: Sql, table: str, where: str, t: int) -> int:
    sql, params = _bind(f"DELETE FROM {table} WHERE {where}", t)
    return int(conn.execute(sql, params).rowcount)


def prune(conn: Sql, before_us: int, *, events: bool, dry_run: bool) -> Pruned:
    """Delete (or count, `dry_run`) what may go before `before_us`. The caller holds one
    transaction around it (and rolls it back on any error)."""
    kept = _count(conn, "ledger", _LEDGER_KEPT, before_us)
    step = _count if dry_run else _delete
    ledger = step(conn, "ledger", _LEDGER, before_us)
    runs = step(conn, "runs", _RUNS, before_us)
    n_events = step(conn, "events", _EVENTS, before_us) if events else None
    return Pruned(ledger=ledger, runs=runs, events=n_events, ledger_kept=kept)
