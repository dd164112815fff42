"""The delivery ledger on PostgreSQL: claims with `FOR UPDATE SKIP LOCKED` and a lease,
recovering what a dead worker left `attempting`, recording what each attempt came to."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from journeyctl import faults
from journeyctl.engine.model import Message
from journeyctl.store.base import LedgerRow
from journeyctl.store.postgres.connection import Connection
from journeyctl.store.postgres.runs import DEAD_CLAIMER
from journeyctl.store.postgres.state import LEASE_US
from journeyctl.store.serialize import to_micros
from journeyctl.store.sqlite.rows import (
    LEDGER_COLUMNS,
    MESSAGE_COLUMNS,
    MESSAGES,
    N_MESSAGE,
    ledger_row,
)

# Due rows, skipping those another worker's claim holds locked this instant: each row is
# claimed by exactly one worker.
_CLAIM = (
    "UPDATE ledger SET state = 'attempting', attempts = attempts + 1, "
    "next_attempt_at = %(now)s, claimed_by = %(run)s, lease_until = %(until)s "
    "WHERE id IN (SELECT id FROM ledger WHERE state IN ('planned', 'retry') "
    "AND next_attempt_at <= %(now)s ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
    f"RETURNING id, attempts, {MESSAGE_COLUMNS}"
)
# `attempting` rows and whether each is orphaned for sure: its run finished, or its run's
# session (and so its liveness lock) is gone, or its lease ran out.
_ATTEMPTING = (
    f"SELECT {', '.join(f'l.{c}' for c in MESSAGES.column_names)}, l.claimed_by, l.next_attempt_at, "
    "(r.finished_at IS NOT NULL OR (l.claimed_by IS NOT NULL AND l.claimed_by IS DISTINCT FROM "
    f"%(run)s AND {DEAD_CLAIMER.format(col='l.claimed_by')})), "
    "(l.lease_until < %(clock)s) "
    "FROM ledger l LEFT JOIN runs r ON r.id = l.claimed_by "
    "WHERE l.state = 'attempting' ORDER BY l.id FOR UPDATE OF l SKIP LOCKED"
)
_SENT = (
    "UPDATE ledger SET state = 'sent', delivered_at = %s, provider_id = %s, error = NULL, "
    "next_attempt_at = NULL, lease_until = NULL WHERE key = %s"
)


class Ledger(Connection):
    def claim_deliveries(
        self, now: datetime, limit: int | None = None
    ) -> list[tuple[Message, int]]:
        now_us = to_micros(now)
        with self.transaction():
            rows = self.raw.execute(
                _CLAIM,
                {"now": now_us, "run": self._run_id, "limit": limit,
                 "until": self.server_micros() + LEASE_US},
            ).fetchall()  # fmt: skip
        faults.point("claim")
        rows.sort(key=lambda r: r[0])  # decision order
        return [(MESSAGES.decode(r[2:]), r[1]) for r in rows]

    def stale_attempts(self, claimed_before: datetime | None) -> list[Message]:
        """Rows left `attempting` by a worker that died, never a live run's: a row claimed by
        a recorded run is orphaned once that run finished or its session ended (runs.py),
        and never while its session lives (lease or not). Otherwise (claimed outside a
        recorded run): once its lease ran out, or claimed at or before `claimed_before`
        (None: all). Rows another worker is recovering this instant are skipped."""
        cutoff = None if claimed_before is None else to_micros(claimed_before)
        rows = self.raw.execute(
            _ATTEMPTING, {"run": self._run_id, "clock": self.server_micros()}
        ).fetchall()
        out = []
        for r in rows:
            claimer, claimed_at, dead, expired = r[N_MESSAGE:]
            if claimer is not None and claimer != self._run_id:
                known = _recorded(self, claimer)
                if dead or (not known and (expired or cutoff is None or claimed_at <= cutoff)):
                    out.append(MESSAGES.decode(r[:N_MESSAGE]))
            elif claimer is None and (expired or cutoff is None or claimed_at <= cutoff):
                out.append(MESSAGES.decode(r[:N_MESSAGE]))
        return out

    def mark_sent(self, key: str, delivered_at: datetime, provider_id: str | None = None) -> None:
        self._reconnect_if_broken()
        self.raw.execute(_SENT, (to_micros(delivered_at), provider_id, key))

    def mark_sent_many(
        self, receipts: Iterable[tuple[str, str | None]], delivered_at: datetime
    ) -> None:
        at = to_micros(delivered_at)
        rows = [(at, pid, key) for key, pid in receipts]
        if rows:
            self._reconnect_if_broken()
            self.raw.cursor().executemany(_SENT, rows)

    def mark_retry(self, key: str, next_attempt_at: datetime, error: str) -> None:
        self._reconnect_if_broken()
        self.raw.execute(
            "UPDATE ledger SET state = 'retry', next_attempt_at = %s, error = %s, "
            "lease_until = NULL WHERE key = %s",
            (to_micros(next_attempt_at), error, key),
        )

    def mark_failed(self, key: str, error: str) -> None:
        self._reconnect_if_broken()
        self.raw.execute(
            "UPDATE ledger SET state = 'failed', next_attempt_at = NULL, error = %s, "
            "lease_until = NULL WHERE key = %s",
            (error, key),
        )

    def ledger(self) -> Iterator[LedgerRow]:
        rows = self.raw.execute(f"SELECT {LEDGER_COLUMNS} FROM ledger ORDER BY id").fetchall()
        for r in rows:
            yield ledger_row(r)


def _recorded(store: Connection, run_id: int) -> bool:
    """Whether the run is in the runs table (a copied ledger may name runs that are not)."""
    row = store.raw.execute("SELECT 1 FROM runs WHERE id = %s", (run_id,)).fetchone()
    return row is not None
