"""MemoryStore: the in-process Store, for tests (the contract suite runs both stores).

`simulate` does not use a store: it replays each contact in memory (simulate.replay)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from journeyctl.engine.model import Contact, ContactState, Event, Message, Status, StepResult
from journeyctl.store.base import Delivery, LedgerRow

_BEFORE = timedelta(microseconds=1)


class MemoryStore:
    leases_contacts = False  # one process

    def __init__(self) -> None:
        self.states: dict[str, ContactState] = {}
        self.wake: dict[str, datetime | None] = {}
        self._seen_events: set[tuple[object, ...]] = set()
        self._ledger: dict[str, LedgerRow] = {}

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def upsert_contacts(self, contacts: Iterable[Contact], born: datetime) -> int:
        new = 0
        for c in contacts:
            state = self.states.get(c.id)
            if state is None:
                self.states[c.id] = ContactState(contact=c, cursor=born)
                self.wake[c.id] = born  # a new contact is looked at once (triggers)
                new += 1
            elif state.contact != c:
                state.contact = c
                state.alarms.clear()
                # Attributes changed: wake at the cursor to re-check triggers (not when unchanged,
                # so a cron job re-importing the same file costs nothing).
                wake = self.wake.get(c.id)
                assert state.cursor is not None
                if wake is None or wake > state.cursor:
                    self.wake[c.id] = state.cursor
        return new

    def known_contacts(self, ids: Iterable[str]) -> set[str]:
        return {i for i in ids if i in self.states}

    def add_events(self, events: Iterable[Event]) -> int:
        new = 0
        for ev in events:
            key = ev.natural_key
            if key in self._seen_events:
                continue
            state = self.states.get(ev.contact_id)
            if state is None:
                continue  # events of unknown contacts are reported by the importer
            self._seen_events.add(key)
            state.pending.append(ev)
            cursor = state.cursor
            assert cursor is not None
            fresh = not state.enrollments and not state.events and not state.triggers
            if ev.enrolls and fresh and ev.at - _BEFORE < cursor:
                # as SqliteStore.add_events: a new contact starts before its first event
                cursor = state.cursor = ev.at - _BEFORE
                known = self.wake.get(ev.contact_id)
                if known is None or cursor < known:
                    self.wake[ev.contact_id] = cursor
            at = ev.at if ev.at > cursor else cursor
            wake = self.wake.get(ev.contact_id)
            if wake is None or at < wake:
                self.wake[ev.contact_id] = at
            new += 1
        return new

    def due_contacts(self, now: datetime, limit: int | None = None) -> list[str]:
        due = sorted((w, cid) for cid, w in self.wake.items() if w is not None and w <= now)
        ids = [cid for _, cid in due]
        return ids[:limit] if limit is not None else ids

    def wake_held(self, project_digest: str) -> int:
        woken = 0
        for cid, state in self.states.items():
            held = any(e.held and not e.held.startswith(project_digest) for e in state.enrollments)
            wake = self.wake.get(cid)
            if held and (wake is None or (state.cursor is not None and wake > state.cursor)):
                self.wake[cid] = state.cursor
                woken += 1
        return woken

    def is_idle(self, now: datetime) -> bool:
        return not (
            any(r.state is Delivery.ATTEMPTING for r in self._ledger.values())
            or self.due_contacts(now, limit=1)
            or any(
                r.state is Delivery.PLANNED
                or (
                    r.state is Delivery.RETRY
                    and r.next_attempt_at is not None
                    and r.next_attempt_at <= now
                )
                for r in self._ledger.values()
            )
        )

    def next_wake(self) -> datetime | None:
        return min((w for w in self.wake.values() if w is not None), default=None)

    def load(self, contact_id: str) -> ContactState:
        return self.states[contact_id]

    def load_many(self, contact_ids: Sequence[str]) -> list[ContactState]:
        return [self.states[cid] for cid in contact_ids]

    def save_many(
        self, saves: Iterable[tuple[ContactState, StepResult]], claim: datetime | None = None
    ) -> list[tuple[Message, int]]:
        claimed: list[tuple[Message, int]] = []
        for state, result in saves:
            claimed += self._save(state, result, claim)
        return claimed

    def save(self, state: ContactState, result: StepResult) -> None:
        self._save(state, result, None)

    def _save(
        self, state: ContactState, result: StepResult, claim: datetime | None
    ) -> list[tuple[Message, int]]:
        self.states[state.contact.id] = state
        self.wake[state.contact.id] = result.next_due
        claimed: list[tuple[Message, int]] = []
        for e in result.rearmed or ():
            for key, row in list(self._ledger.items()):
                if (
                    row.message.enrollment_id == e.id
                    and row.state is Delivery.FAILED
                    and row.message.reason == "render_error"
                ):
                    del self._ledger[key]  # tried again: the failed row makes way
        failed = {m.key: why for m, why in result.failures or ()}
        for m in result.messages:
            if m.key in self._ledger:
                continue  # idempotency key is unique
            if m.key in failed:
                self._ledger[m.key] = LedgerRow(m, Delivery.FAILED, error=failed[m.key])
            elif m.status is not Status.SENT:
                self._ledger[m.key] = LedgerRow(m, Delivery.SKIPPED)
            elif claim is None:
                self._ledger[m.key] = LedgerRow(m, Delivery.PLANNED)
            else:
                self._ledger[m.key] = LedgerRow(m, Delivery.ATTEMPTING, 1, claim)
                claimed.append((m, 1))
        return claimed

    def claim_deliveries(
        self, now: datetime, limit: int | None = None
    ) -> list[tuple[Message, int]]:
        out: list[tuple[Message, int]] = []
        for key, row in self._ledger.items():
            if limit is not None and len(out) >= limit:
                break
            due = row.state is Delivery.PLANNED or (
                row.state is Delivery.RETRY
                and row.next_attempt_at is not None
                and row.next_attempt_at <= now
            )
            if due:
                self._ledger[key] = replace(
                    row, state=Delivery.ATTEMPTING, attempts=row.attempts + 1, next_attempt_at=now
                )
                out.append((row.message, row.attempts + 1))
        return out

    def stale_attempts(self, claimed_before: datetime | None) -> list[Message]:
        return [
            r.message
            for r in self._ledger.values()
            if r.state is Delivery.ATTEMPTING
            and (
                claimed_before is None
                or (r.next_attempt_at is not None and r.next_attempt_at <= claimed_before)
            )
        ]

    def mark_sent(self, key: str, delivered_at: datetime, provider_id: str | None = None) -> None:
        row = self._ledger[key]
        self._ledger[key] = replace(
            row, state=Delivery.SENT, delivered_at=delivered_at, error=None, next_attempt_at=None
        )

    def mark_sent_many(
        self, receipts: Iterable[tuple[str, str | None]], delivered_at: datetime
    ) -> None:
        for key, provider_id in receipts:
            self.mark_sent(key, delivered_at, provider_id)

    def mark_retry(self, key: str, next_attempt_at: datetime, error: str) -> None:
        row = self._ledger[key]
        self._ledger[key] = replace(
            row, state=Delivery.RETRY, next_attempt_at=next_attempt_at, error=error
        )

    def mark_failed(self, key: str, error: str) -> None:
        row = self._ledger[key]
        self._ledger[key] = replace(row, state=Delivery.FAILED, error=error, next_attempt_at=None)

    def ledger(self) -> Iterator[LedgerRow]:
        return iter(list(self._ledger.values()))

    def messages(self) -> list[Message]:
        return [r.message for r in self._ledger.values()]
