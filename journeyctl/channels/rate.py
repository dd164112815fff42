"""Per-channel `rate: 50/s` (or /m, /h): a token bucket with burst 1 around any channel.

Real relays are slower than journeyctl (research/performance.md §2), so the rate is a hard
ceiling: attempts are spaced 1/rate apart. The schedule advances from the previous slot, not
from when sleep() returned, so sleep overshoot does not accumulate over a run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from journeyctl.channels.base import Channel, ChannelConfigError, Receipt
from journeyctl.engine.model import Message

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|m|h)\s*$")
_PER = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_rate(text: str) -> float:
    """Messages per second. `parse_rate("50/s") == 50.0`, `parse_rate("30/m") == 0.5`."""
    match = _RATE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ChannelConfigError(f"rate {text!r} is not like 50/s, 300/m or 1000/h")
    return float(match.group(1)) / _PER[match.group(2)]


class TokenBucket:
    """Burst-1 bucket: `acquire()` returns when the next send slot has come."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / per_second
        self._clock, self._sleep = clock, sleep
        self._next: float | None = None

    def acquire(self) -> None:
        now = self._clock()
        slot = now if self._next is None else max(now, self._next)
        if slot > now:
            self._sleep(slot - now)
        self._next = slot + self.interval


class RateLimited:
    """Wraps a channel; everything but deliver() passes through (e.g. already_delivered)."""

    def __init__(self, channel: Channel, bucket: TokenBucket) -> None:
        self.inner, self.bucket = channel, bucket
        self.name, self.medium = channel.name, channel.medium

    def open(self) -> None:
        self.inner.open()

    def deliver(self, message: Message) -> Receipt:
        self.bucket.acquire()
        return self.inner.deliver(message)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)
