"""The Store protocol: what the shell (run.tick) needs to remember. MemoryStore and
SqliteStore both implement it and share one contract test suite (tests/store/test_contract.py).

Delivery ledger states: planned -> attempting -> sent | retry (-> attempting ...) | failed;
skipped messages are recorded as skipped with their reason. The idempotency key is unique.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from journeyctl.engine.model import Contact, ContactState, Event, Message, StepResult


class Delivery(StrEnum):
    PLANNED = "planned"
    ATTEMPTING = "attempting"
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class LedgerRow:
    message: Message
    state: Delivery
    attempts: int = 0
    next_attempt_at: datetime | None = None  # retry: backoff end; attempting: claim time
    delivered_at: datetime | None = None
    error: str | None = None


class Queries(Protocol):
    """A connection taking sqlite3's SQL and parameters: SqliteStore's `conn`, and
    PostgresStore's (store/postgres/connection.py translates the parameters), so the
    read-only questions of status, report and the listener are written once."""

    def execute(self, sql: str, params: Any = ..., /) -> Any: ...


class Store(Protocol):
    # Whether due contacts are leased to the worker asking (several workers on one database,
    # PostgreSQL): the tick then asks for one batch at a time (run.tick._due_batches).
    leases_contacts: bool

    def transaction(self) -> AbstractContextManager[None]:
        """A write transaction (BEGIN IMMEDIATE in SQLite)."""

    def upsert_contacts(self, contacts: Iterable[Contact], born: datetime) -> int:
        """Insert or update contacts; new ones start with `cursor = born`. Returns how many were new."""

    def known_contacts(self, ids: Iterable[str]) -> set[str]:
        """Which of `ids` are stored contacts."""

    def add_events(self, events: Iterable[Event]) -> int:
        """Add events not seen before (natural key), as pending for their contact; events of
        unknown contacts are ignored (the importer reports them). Returns the new count."""

    def due_contacts(self, now: datetime, limit: int | None = None) -> list[str]:
        """Ids of contacts whose next wake-up is at or before `now`, earliest first."""

    def wake_held(self, project_digest: str) -> int:
        """Wake contacts with an enrollment held by a failure under other project files
        (Enrollment.held); returns how many."""

    def is_idle(self, now: datetime) -> bool:
        """Whether a tick at `now` would do nothing: no delivery left `attempting` to recover,
        no contact due, no delivery due (the idle cron minute asks this: run.idle)."""

    def next_wake(self) -> datetime | None:
        """The earliest wake-up of any contact, or None when no contact has one."""

    def load(self, contact_id: str) -> ContactState:
        """The whole state of one contact, for the engine."""

    def save(self, state: ContactState, result: StepResult) -> None:
        """Persist the state and the result's new messages (sent -> planned, skipped -> skipped)."""

    def load_many(self, contact_ids: Sequence[str]) -> list[ContactState]:
        """`load` for several contacts, in the order given (KeyError for an unknown one).
        History messages may come without their rendered bodies: the engine never reads them."""

    def save_many(
        self, saves: Iterable[tuple[ContactState, StepResult]], claim: datetime | None = None
    ) -> list[tuple[Message, int]]:
        """`save` for several contacts, atomically; ledger rows keep the order given.
        `claim`: new sent messages are recorded `attempting` (claimed at `claim`, attempt 1),
        not `planned`, and returned with their attempt number for the caller to deliver at
        once; a key already in the ledger is neither recorded nor returned."""

    def claim_deliveries(
        self, now: datetime, limit: int | None = None
    ) -> list[tuple[Message, int]]:
        """Planned or retry-due messages with their attempt number, marked attempting so no other
        tick delivers them."""

    def stale_attempts(self, claimed_before: datetime | None) -> list[Message]:
        """Messages left `attempting` (claimed at or before `claimed_before`; None: all) by a
        tick that died mid-delivery."""

    def mark_sent(
        self, key: str, delivered_at: datetime, provider_id: str | None = None
    ) -> None: ...

    def mark_sent_many(
        self, receipts: Iterable[tuple[str, str | None]], delivered_at: datetime
    ) -> None:
        """`mark_sent` for (key, provider id) pairs."""

    def mark_retry(self, key: str, next_attempt_at: datetime, error: str) -> None: ...

    def mark_failed(self, key: str, error: str) -> None: ...

    def ledger(self) -> Iterator[LedgerRow]:
        """Every recorded message, in decision order."""
