"""The imperative shell: the one place effects happen. `run`, `serve` and `simulate` all call
`tick`: enroll and advance every due contact through the engine, then deliver what it decided.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from journeyctl.channels.base import Channel
from journeyctl.engine.advance import Engine
from journeyctl.engine.draw import bucket
from journeyctl.engine.model import Event, Message, Status
from journeyctl.errors import PermanentChannelError, TransientChannelError
from journeyctl.store.base import Store

RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)
MAX_ATTEMPTS = 8


@dataclass
class TickReport:
    now: datetime
    contacts: int = 0
    decided: int = 0
    skipped: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    messages: list[Message] = field(default_factory=list)  # decided this tick (sent + skipped)

    @property
    def ok(self) -> bool:
        return self.failed == 0


def backoff(key: str, attempt: int, retry_after: float | None) -> timedelta:
    """Capped exponential backoff with deterministic jitter (50-100%), at least `Retry-After`."""
    raw = min(RETRY_CAP, RETRY_BASE * (2 ** max(attempt - 1, 0)))
    delay = raw * (0.5 + 0.5 * bucket(key, str(attempt)))
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


def advance_due(
    engine: Engine, store: Store, now: datetime, report: TickReport, limit: int | None
) -> None:
    """Let the engine decide for every contact that is due, saving each contact atomically."""
    for contact_id in store.due_contacts(now, limit):
        with store.transaction():
            state = store.load(contact_id)
            result = engine.advance(state, now)
            store.save(state, result)
        report.contacts += 1
        for m in result.messages:
            report.messages.append(m)
            if m.status is Status.SENT:
                report.decided += 1
            else:
                report.skipped += 1


def deliver_due(
    store: Store,
    channels: Mapping[str, Channel],
    now: datetime,
    report: TickReport,
    limit: int | None = None,
    on_delivered: Callable[[Message], None] | None = None,
) -> None:
    """Hand claimed messages to their channels; classify failures; other contacts keep flowing."""
    claimed = store.claim_deliveries(now, limit)
    opened: set[str] = set()
    try:
        for msg, attempt in claimed:
            channel = channels[msg.channel]
            try:
                if msg.channel not in opened:
                    channel.open()
                    opened.add(msg.channel)
                receipt = channel.deliver(msg)
            except TransientChannelError as exc:
                if attempt >= MAX_ATTEMPTS:
                    store.mark_failed(msg.key, f"gave up after {attempt} attempts: {exc}")
                    report.failed += 1
                else:
                    store.mark_retry(
                        msg.key, now + backoff(msg.key, attempt, exc.retry_after), str(exc)
                    )
                    report.retrying += 1
                continue
            except PermanentChannelError as exc:
                store.mark_failed(msg.key, str(exc))
                report.failed += 1
                if exc.bounce:
                    # A bounce suppresses the contact from now on (also for transactional mail).
                    store.add_events(
                        [Event(msg.contact_id, "bounced", now, (("message_id", msg.key),))]
                    )
                continue
            store.mark_sent(msg.key, now, receipt.provider_id)
            report.delivered += 1
            if on_delivered is not None:
                on_delivered(msg)
    finally:
        for name in opened:
            channels[name].close()


def tick(
    engine: Engine,
    store: Store,
    channels: Mapping[str, Channel],
    now: datetime,
    *,
    limit: int | None = None,
) -> TickReport:
    """One pass: advance what is due, deliver, record. Used by run, serve and simulate."""
    report = TickReport(now=now)
    advance_due(engine, store, now, report, limit)
    deliver_due(store, channels, now, report, limit)
    return report
