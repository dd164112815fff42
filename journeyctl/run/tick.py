"""One tick against a store: enroll and advance every due contact through the engine, then
deliver what it decided. `run` and `serve` call it (through run.once); `simulate` does not:
it replays each contact through the same `Engine` on its own (simulate.replay).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from journeyctl import bulk, faults
from journeyctl.channels.base import Channel, ChannelConfigError
from journeyctl.engine.advance import Engine
from journeyctl.engine.draw import bucket
from journeyctl.engine.model import Event, Message, Status
from journeyctl.errors import PermanentChannelError, TransientChannelError
from journeyctl.run.summary import COUNTS, SEQUENCE_COUNTS
from journeyctl.store.base import Store

RETRY_BASE = timedelta(minutes=1)
# The longest wait before a retry, whatever the peer's Retry-After says (docs/run.md).
RETRY_CAP = timedelta(hours=1)
MAX_ATTEMPTS = 8
# A channel that fails this many deliveries in a row within one tick (transient failures:
# timeouts, refused connections, 429, 5xx) is paused for the rest of the tick: its other
# messages wait for a later tick instead of each waiting out its own timeout (docs/run.md,
# "Slow and failing peers").
BREAKER_FAILURES = 5
# A message claimed this long ago and still `attempting`, by a tick not known to be alive
# (no run lock held, no run recorded), belongs to a tick that died.
LEASE = timedelta(minutes=10)
# Contacts advanced per write transaction: one fsync per batch, not per contact. A crash
# loses at most the batch's decisions, which the next tick recomputes identically.
ADVANCE_BATCH = 1000
# `sent` marks committed together for channels that can reconcile (`already_delivered`): a
# crash before the commit costs no repeat, since recovery asks the channel (which is synced
# before each commit). Other channels commit each `sent` at once, so a crash repeats at most
# the one message in flight (SPEC §5).
SENT_BATCH = 2000
# Problems listed one per line in a tick's report; a poisoned export must not flood the log.
MAX_ERRORS = 20


@dataclass
class TickReport:
    now: datetime
    contacts: int = 0
    decided: int = 0
    skipped: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    recovered: int = 0  # interrupted deliveries found on start (re-sent or reconciled)
    # channels that could not be built, messages that could not be rendered, ...
    errors: list[str] = field(default_factory=list)
    unlisted: int = 0  # problems beyond MAX_ERRORS, counted only
    # Decided this tick (sent + skipped), kept only when asked (`run --dry-run` prints them):
    # a tick of 100k messages should not hold every rendered body until it ends.
    keep_messages: bool = False
    messages: list[Message] = field(default_factory=list)
    # Per sequence: the counts of summary.SEQUENCE_COUNTS (the run line's breakdown).
    by_sequence: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, sequence: str, what: str, n: int = 1) -> None:
        row = self.by_sequence.get(sequence)
        if row is None:
            row = self.by_sequence[sequence] = dict.fromkeys(SEQUENCE_COUNTS, 0)
        row[what] += n

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.errors

    def counts(self) -> dict[str, int]:
        """The counters, as the runs table and the run summary name them (summary.COUNTS)."""
        return {c: getattr(self, c) for c in COUNTS}

    def note(self, problem: str) -> None:
        """One line per distinct problem, at most MAX_ERRORS (then a count of the rest)."""
        if problem in self.errors:
            return
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(problem)
        else:
            self.unlisted += 1


def backoff(key: str, attempt: int, retry_after: float | None) -> timedelta:
    """Capped exponential backoff with deterministic jitter (50-100%), at least `Retry-After`,
    never more than RETRY_CAP: a peer's `Retry-After: 999999999999` (or inf, or NaN) can
    neither overflow the ledger's times nor park a message for centuries."""
    raw = min(RETRY_CAP, RETRY_BASE * (2 ** min(max(attempt - 1, 0), 16)))
    delay = raw * (0.5 + 0.5 * bucket(key, str(attempt)))
    if retry_after is not None and retry_after > 0:  # (NaN > 0 is false)
        delay = max(delay, timedelta(seconds=min(retry_after, RETRY_CAP.total_seconds())))
    return delay


def advance_due(
    engine: Engine,
    store: Store,
    now: datetime,
    report: TickReport,
    limit: int | None,
    deliver: Deliveries | None = None,
) -> None:
    """Let the engine decide for every contact that is due; each batch of contacts commits
    atomically (the decisions are deterministic, so a lost batch is simply decided again).

    `deliver`: each batch's new sent messages are committed already claimed (`attempting`)
    and handed to it right after the commit, instead of waiting as `planned` for a claim
    that would read them all back. A crash after the commit leaves them to recovery, like
    any claimed message.
    """
    claim = now if deliver is not None else None
    for batch in _due_batches(store, now, limit):
        with store.transaction():
            if deliver is not None:
                deliver.record_sent()  # the previous batch's `sent` marks share this commit
            states = store.load_many(batch)
            saves = [(state, engine.advance(state, now)) for state in states]
            claimed = store.save_many(saves, claim)
            faults.point("advance")
        faults.point("advance-commit")
        report.contacts += len(states)
        decided = decisions = 0
        for _, result in saves:
            if result.messages:
                decisions += len(result.messages)
                for m in result.messages:
                    sent = m.status is Status.SENT
                    decided += sent
                    report.count(m.sequence, "decided" if sent else "skipped")
                if report.keep_messages:
                    report.messages += result.messages
        report.decided += decided
        report.skipped += decisions - decided
        for _, result in saves:
            for failed_msg, why in result.failures or ():
                # SPEC §5: the message fails, located; the tick goes on (and exits 1).
                report.skipped -= 1
                report.failed += 1
                report.count(failed_msg.sequence, "skipped", -1)
                report.count(failed_msg.sequence, "failed")
                report.note(why)
        if deliver is not None and claimed:
            deliver(claimed)
        del states, saves, claimed
        bulk.collect_young()  # the batch is garbage now: cycles among it go here


def _due_batches(store: Store, now: datetime, limit: int | None) -> Iterator[list[str]]:
    """The due contacts, a batch at a time. A store that leases its due contacts to the
    worker asking (PostgreSQL, `leases_contacts`) is asked for one batch at a time, so several
    workers share the due contacts instead of the first leasing them all; a contact that is
    due again after its batch (never re-advanced within one tick) ends the rounds. A store
    with one run at a time (SQLite, under its run lock) answers once."""
    if not store.leases_contacts:
        due = store.due_contacts(now, limit)
        for start in range(0, len(due), ADVANCE_BATCH):
            yield due[start : start + ADVANCE_BATCH]
        return
    seen: set[str] = set()
    left = limit
    while left is None or left > 0:
        size = ADVANCE_BATCH if left is None else min(ADVANCE_BATCH, left)
        batch = [c for c in store.due_contacts(now, size) if c not in seen]
        if not batch:
            return
        seen.update(batch)
        if left is not None:
            left -= len(batch)
        yield batch


def recover_interrupted(
    store: Store,
    channels: Mapping[str, Channel],
    now: datetime,
    report: TickReport,
    *,
    exclusive: bool = False,
) -> None:
    """Deliveries left `attempting` by a tick that died (kill -9, power cut) go out again.

    SPEC §5: at least once, with the same idempotency key. A channel that can tell whether it
    already has the message (`already_delivered`, e.g. the file outbox) reconciles instead,
    so it never repeats. Never another live run's claims: a row claimed by a recorded run is
    orphaned once that run is dead (finished, or its run lock free; see
    SqliteStore.stale_attempts). Other rows: with `exclusive` (the caller holds the run
    lock) all of them, else only those claimed more than LEASE ago.
    """
    # Read and released in one write transaction: two ticks recovering at once (without the
    # lock) cannot both release a row, the second after the first has claimed it again.
    with store.transaction():  # one commit, however many a dead tick had claimed
        stale = store.stale_attempts(None if exclusive else now - LEASE)
        for msg in stale:
            report.recovered += 1
            try:
                channel: object = channels[msg.channel]
            except ChannelConfigError:
                channel = None  # cannot be built, so cannot reconcile; deliver_due reports it
            # (rate-limit wrappers pass `already_delivered` through)
            check = getattr(channel, "already_delivered", None)
            if check is not None and check(msg.key):
                store.mark_sent(msg.key, now, None)
                report.delivered += 1
            else:
                store.mark_retry(msg.key, now, "interrupted: the tick delivering it stopped")
        faults.point("recover")


@dataclass
class Pause:
    """A channel paused for the rest of a tick by the circuit breaker."""

    channel: str
    last_error: str
    retry_after: float | None  # the last failure's, honoured by the messages left too
    left: int = 0  # messages handed back without an attempt

    @property
    def reason(self) -> str:
        return (
            f"not attempted: channel {self.channel!r} paused for the rest of the tick after "
            f"{BREAKER_FAILURES} failed deliveries in a row (last: {self.last_error})"
        )


class Deliveries:
    """Hands claimed messages to their channels, classifies failures and records outcomes;
    other contacts keep flowing. Use as a context manager: leaving it closes the channels it
    opened and records what is still unrecorded.

    Circuit breaker: after BREAKER_FAILURES transient failures in a row on one channel (no
    success or permanent answer between), that channel is paused until this object is left
    (the tick): its further messages are not attempted but scheduled like a failed attempt
    (the claim counted it; backoff, at least the last Retry-After), and never marked failed
    for it (docs/DECISIONS.md). Other channels deliver on; the report says which paused."""

    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Channel],
        now: datetime,
        report: TickReport,
        on_delivered: Callable[[Message], None] | None = None,
    ) -> None:
        self.store, self.channels, self.now, self.report = store, channels, now, report
        self.on_delivered = on_delivered
        self.opened: dict[str, Channel] = {}
        self._reconciles: dict[str, bool] = {}  # channel name -> has already_delivered
        self.unrecorded: list[tuple[str, str | None]] = []  # delivered to reconcilable channels
        self.failing: dict[str, int] = {}  # channel -> transient failures in a row
        self.paused: dict[str, Pause] = {}

    def __enter__(self) -> Deliveries:
        return self

    def __exit__(self, *exc: object) -> None:
        for pause in self.paused.values():
            self.report.note(
                f"channel {pause.channel!r} paused for the rest of this tick after "
                f"{BREAKER_FAILURES} failed deliveries in a row (last: {pause.last_error}); "
                f"{pause.left} more message(s) left for a later tick"
            )
        try:
            for channel in self.opened.values():
                channel.close()  # flushes (the outbox fsyncs) before the ledger says sent
        finally:
            if self.unrecorded:
                self._commit_sent()

    def _commit_sent(self) -> None:
        with self.store.transaction():
            self.record_sent()
        faults.point("after-record")

    def record_sent(self) -> None:
        """Write the pending `sent` marks of reconcilable channels into the current (or
        a new) transaction, after those channels have synced what they hold."""
        if not self.unrecorded:
            return
        for name, channel in self.opened.items():
            if self._reconciles.get(name):
                sync = getattr(channel, "sync", None)
                if sync is not None:
                    sync()  # the lines are on disk before the ledger says they are delivered
        self.store.mark_sent_many(self.unrecorded, self.now)
        self.unrecorded.clear()

    def __call__(self, claimed: list[tuple[Message, int]]) -> None:
        store, now, report = self.store, self.now, self.report
        opened, unrecorded = self.opened, self.unrecorded
        failing, paused = self.failing, self.paused
        for msg, attempt in claimed:
            if paused:
                pause = paused.get(msg.channel)
                if pause is not None:
                    delay = backoff(msg.key, attempt, pause.retry_after)
                    store.mark_retry(msg.key, now + delay, pause.reason)
                    pause.left += 1
                    report.retrying += 1
                    continue
            channel = opened.get(msg.channel)
            if channel is None:
                try:
                    channel = self.channels[msg.channel]
                except ChannelConfigError as exc:
                    # SPEC §2: an unset ${VAR} is an error when the channel is used. Keep the
                    # message (retry with backoff) and let other channels keep flowing.
                    store.mark_retry(msg.key, now + backoff(msg.key, attempt, None), str(exc))
                    report.retrying += 1
                    report.note(str(exc))
                    continue
            try:
                if msg.channel not in opened:
                    channel.open()
                    opened[msg.channel] = channel
                    self._reconciles[msg.channel] = hasattr(channel, "already_delivered")
                faults.point("attempting")
                receipt = channel.deliver(msg)
            except TransientChannelError as exc:
                if attempt >= MAX_ATTEMPTS:
                    store.mark_failed(msg.key, f"gave up after {attempt} attempts: {exc}")
                    report.failed += 1
                    report.count(msg.sequence, "failed")
                else:
                    store.mark_retry(
                        msg.key, now + backoff(msg.key, attempt, exc.retry_after), str(exc)
                    )
                    report.retrying += 1
                failures = failing[msg.channel] = failing.get(msg.channel, 0) + 1
                if failures >= BREAKER_FAILURES:
                    paused[msg.channel] = Pause(msg.channel, str(exc), exc.retry_after)
                continue
            except PermanentChannelError as exc:
                failing.pop(msg.channel, None)  # the peer answers: not the channel's fault
                store.mark_failed(msg.key, str(exc))
                report.failed += 1
                report.count(msg.sequence, "failed")
                if exc.bounce:
                    # A bounce suppresses the contact from now on (also for transactional mail).
                    store.add_events(
                        [Event(msg.contact_id, "bounced", now, (("message_id", msg.key),))]
                    )
                continue
            faults.point("after-accept")
            if failing:
                failing.pop(msg.channel, None)
            if self._reconciles[msg.channel]:
                unrecorded.append((msg.key, receipt.provider_id))
                if len(unrecorded) >= SENT_BATCH:
                    self._commit_sent()
            else:
                store.mark_sent(msg.key, now, receipt.provider_id)
                faults.point("after-record")
            report.delivered += 1
            report.count(msg.sequence, "delivered")
            if self.on_delivered is not None:
                self.on_delivered(msg)


def deliver_due(
    store: Store,
    channels: Mapping[str, Channel],
    now: datetime,
    report: TickReport,
    limit: int | None = None,
    on_delivered: Callable[[Message], None] | None = None,
) -> None:
    """Claim the planned and retry-due messages and deliver them."""
    with Deliveries(store, channels, now, report, on_delivered) as deliver:
        deliver(store.claim_deliveries(now, limit))


def tick(
    engine: Engine,
    store: Store,
    channels: Mapping[str, Channel],
    now: datetime,
    *,
    limit: int | None = None,
    exclusive: bool = False,
    keep_messages: bool = False,
) -> TickReport:
    """One pass: recover, advance what is due, deliver, record. Used by run and serve.

    `exclusive`: the caller holds the run lock (see recover_interrupted). `keep_messages`:
    the report lists every message decided (for `--dry-run` output).
    """
    report = TickReport(now=now, keep_messages=keep_messages)
    # Contacts held by a failure under other project files: the edit may be the fix.
    store.wake_held(engine.project_digest())
    # A tick allocates a few dozen containers per message, nearly all freed by reference
    # counting; automatic collections each traversed the batch in progress (5-12 µs of a
    # message's ~100-130 µs of CPU). advance_due collects the young after each batch instead.
    with bulk.paused():
        recover_interrupted(store, channels, now, report, exclusive=exclusive)
        if limit is not None:
            # `--limit` caps deliveries too: decide first, then claim at most `limit`.
            advance_due(engine, store, now, report, limit)
            deliver_due(store, channels, now, report, limit)
            return report
        with Deliveries(store, channels, now, report) as deliver:
            advance_due(engine, store, now, report, None, deliver)
            deliver(store.claim_deliveries(now))  # retries due now, and anything left planned
    return report
