"""The Channel protocol: deliver one rendered message, or raise a classified failure.

Channels only classify failures (TransientChannelError / PermanentChannelError from
journeyctl.errors); retry and backoff policy lives in the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from journeyctl.engine.model import Message
from journeyctl.errors import UsageError


@dataclass(frozen=True, slots=True)
class Receipt:
    key: str  # the message's idempotency key
    provider_id: str | None = None  # Message-ID, HTTP response id, outbox line ...


class Channel(Protocol):
    name: str
    medium: str  # email | sms | push | chat | other

    def open(self) -> None:
        """Prepare for a batch (connect once per tick); idempotent."""

    def deliver(self, message: Message) -> Receipt:
        """Hand one message over; raise TransientChannelError or PermanentChannelError."""

    def close(self) -> None:
        """Release connections; idempotent."""


class ChannelConfigError(UsageError):
    """A channel cannot be built: bad `from`, unknown type, unset `${VAR}` (exit 2)."""


class UnsetVariableError(ChannelConfigError):
    """A `${NAME}` reference names an environment variable that is not set."""

    def __init__(self, message: str, variable: str):
        super().__init__(message)
        self.variable = variable


class EnvValueError(ChannelConfigError):
    """A `${NAME}` reference's value is not what its setting takes (`port` from `abc`)."""

    def __init__(self, message: str, variable: str):
        super().__init__(message)
        self.variable = variable
