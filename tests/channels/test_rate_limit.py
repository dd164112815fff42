"""Rate limiting with an injected clock: measured rates, no wall-clock time."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from journeyctl.channels.base import ChannelConfigError
from journeyctl.channels.rate import RateLimited, TokenBucket, parse_rate
from journeyctl.channels.recording import RecordingChannel
from journeyctl.engine.model import Message

MessageFactory = Callable[..., Message]


class FakeTime:
    """A monotonic clock that moves only by sleep() and by simulated send cost."""

    def __init__(self, oversleep: float = 0.0) -> None:
        self.now = 1000.0
        self.oversleep = oversleep  # real sleep() returns late; the bucket must not drift
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds + self.oversleep


class TimedChannel(RecordingChannel):
    """Each delivery costs `cost` seconds of fake time."""

    def __init__(self, fake: FakeTime, cost: float) -> None:
        super().__init__("email", "email")
        self.fake, self.cost = fake, cost
        self.times: list[float] = []

    def deliver(self, message: Message):  # type: ignore[no-untyped-def]
        self.times.append(self.fake.now)
        self.fake.now += self.cost
        return super().deliver(message)


@pytest.mark.parametrize(
    ("text", "per_second"), [("50/s", 50.0), ("30/m", 0.5), ("1800/h", 0.5), ("2.5/s", 2.5)]
)
def test_parse_rate(text: str, per_second: float) -> None:
    assert parse_rate(text) == per_second


@pytest.mark.parametrize("text", ["50", "50/d", "0/s", "-1/s", "fast"])
def test_parse_rate_rejects(text: str) -> None:
    with pytest.raises(ChannelConfigError, match="is not like 50/s"):
        parse_rate(text)


@pytest.mark.parametrize(
    ("rate", "cost", "oversleep"),
    [(50.0, 0.001, 0.0), (50.0, 0.001, 0.0004), (200.0, 0.0, 0.0001), (0.5, 0.2, 0.01)],
)
def test_measured_rate_within_5_percent(
    message: MessageFactory, rate: float, cost: float, oversleep: float
) -> None:
    fake = FakeTime(oversleep)
    inner = TimedChannel(fake, cost)
    channel = RateLimited(inner, TokenBucket(rate, clock=fake.clock, sleep=fake.sleep))
    n = 500
    for i in range(n):
        channel.deliver(message(key=f"k{i}"))
    measured = (n - 1) / (inner.times[-1] - inner.times[0])
    assert abs(measured - rate) / rate < 0.05
    # burst 1: no two sends closer than one interval (up to float rounding)
    gaps = [b - a for a, b in zip(inner.times, inner.times[1:], strict=False)]
    assert min(gaps) >= 1 / rate - 1e-9


def test_slow_channel_is_not_slowed_further(message: MessageFactory) -> None:
    fake = FakeTime()
    inner = TimedChannel(fake, cost=0.1)  # 10/s on its own, limit 50/s
    channel = RateLimited(inner, TokenBucket(50, clock=fake.clock, sleep=fake.sleep))
    for i in range(20):
        channel.deliver(message(key=f"k{i}"))
    assert fake.sleeps == []


def test_idle_time_does_not_build_a_burst(message: MessageFactory) -> None:
    fake = FakeTime()
    inner = TimedChannel(fake, cost=0.0)
    channel = RateLimited(inner, TokenBucket(10, clock=fake.clock, sleep=fake.sleep))
    channel.deliver(message(key="a"))
    fake.now += 60  # a long pause
    for key in "bcd":
        channel.deliver(message(key=key))
    assert [round(t - inner.times[1], 6) for t in inner.times[1:]] == [0.0, 0.1, 0.2]


def test_wrapper_passes_through(message: MessageFactory) -> None:
    inner = RecordingChannel("sms", "sms")
    channel = RateLimited(inner, TokenBucket(1000))
    channel.open()
    channel.deliver(message())
    channel.close()
    assert (channel.name, channel.medium) == ("sms", "sms")
    assert channel.already_delivered("c1:welcome:e1:hello")
    assert inner.delivered == [message()]
