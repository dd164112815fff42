"""A Message as a JSON-ready dict: the one shape the file outbox and webhooks both write."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum
from typing import Any

from journeyctl.engine.model import Message

# Field order follows the dataclass, so `key` comes first on every outbox line (the outbox
# index reads it without parsing the whole line). The field is `_key` (made when first read):
# records hold the key itself.
MESSAGE_FIELDS: tuple[str, ...] = tuple(
    "key" if f.name == "_key" else f.name for f in dataclasses.fields(Message)
)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def message_record(message: Message) -> dict[str, Any]:
    """Every Message field, times as ISO 8601 strings, enums as their values."""
    return {name: _plain(getattr(message, name)) for name in MESSAGE_FIELDS}
