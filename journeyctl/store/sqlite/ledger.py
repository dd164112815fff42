"""The delivery ledger: claiming due deliveries, recovering interrupted ones, recording what
each attempt came to. (New rows are written with the engine's decisions: state.py.)"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from journeyctl import faults
from journeyctl.engine.model import Message
from journeyctl.store.base import LedgerRow
from journeyctl.store.serialize import to_micros
from journeyctl.store.sqlite.connection import Connection
from journeyctl.store.sqlite.rows import (
    LEDGER_COLUMNS,
    MESSAGE_COLUMNS,
    MESSAGES,
    ledger_row,
)
from journeyctl.store.sqlite.runs import dead_runs
from journeyctl.store.sqlite_idle import DUE_DELIVERY, INTERRUPTED


class Ledger(Connection):
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
                f"INDEXED BY ledger_claimable WHERE {DUE_DELIVERY} ORDER BY id LIMIT ?2) "
                f"RETURNING id, attempts, {MESSAGE_COLUMNS}",
                (now_us, -1 if limit is None else limit, self._run_id),
            ).fetchall()
        faults.point("claim")
        rows.sort(key=lambda r: r[0])  # RETURNING order is unspecified: decision order
        for r in rows:
            self._claimed_ids[r[2]] = r[0]
        return [(MESSAGES.decode(r[2:]), r[1]) for r in rows]

    def stale_attempts(self, claimed_before: datetime | None) -> list[Message]:
        """Rows left `attempting` by a tick that died, never a live run's.

        A row claimed by a recorded run (`claimed_by`) is orphaned once that run is known to
        be dead (runs.dead_runs) and never while it is known to be alive, whatever the times.
        Otherwise (claimed outside a recorded run, or by a run whose state cannot be told):
        claimed at or before `claimed_before`; None: all of them (the caller holds the lock).
        """
        rows = self.conn.execute(
            f"SELECT {MESSAGE_COLUMNS}, claimed_by, next_attempt_at FROM ledger "
            f"INDEXED BY ledger_attempting WHERE {INTERRUPTED} ORDER BY id"
        ).fetchall()
        if not rows:
            return []
        runs = dead_runs(
            self.conn, {r[-2] for r in rows if r[-2] is not None}, self._run_id, self._lock
        )
        cutoff = None if claimed_before is None else to_micros(claimed_before)
        out = []
        for r in rows:
            dead = runs.get(r[-2]) if r[-2] is not None else None
            if dead or (dead is None and (cutoff is None or r[-1] <= cutoff)):
                out.append(MESSAGES.decode(r[:-2]))
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
        rows = self.conn.execute(f"SELECT {LEDGER_COLUMNS} FROM ledger ORDER BY id").fetchall()
        for r in rows:
            yield ledger_row(r)
