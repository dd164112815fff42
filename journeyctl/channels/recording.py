"""RecordingChannel: keeps what it is given. `run --dry-run` and tests deliver to it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from journeyctl.channels.base import Receipt
from journeyctl.engine.model import Message


class RecordingChannel:
    def __init__(self, name: str = "recording", medium: str = "other") -> None:
        self.name = name
        self.medium = medium
        self.delivered: list[Message] = []

    def open(self) -> None:
        pass

    def deliver(self, message: Message) -> Receipt:
        # No de-duplication: a key delivered twice is an engine bug that the caller must see.
        self.delivered.append(message)
        return Receipt(message.key)

    def already_delivered(self, key: str) -> bool:
        return any(m.key == key for m in self.delivered)

    def close(self) -> None:
        pass

    @classmethod
    def everywhere(cls) -> RecordingMap:
        """One recorder standing in for every channel name."""
        return RecordingMap(cls())


class RecordingMap(Mapping[str, RecordingChannel]):
    def __init__(self, channel: RecordingChannel) -> None:
        self.channel = channel

    def __getitem__(self, name: str) -> RecordingChannel:
        return self.channel

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0
