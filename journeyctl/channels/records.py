"""A Message as a JSON-ready dict: the one shape the file outbox and webhooks both write."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from operator import attrgetter
from typing import Any

from journeyctl.engine.model import MESSAGE_FIELDS, Message

# The message's fields by their labels, in declared order (engine.model.MESSAGE_FIELDS): `key`
# comes first on every outbox line (the outbox index reads it without parsing the whole line),
# and holds the key itself (the field `_key` is made when first read).
RECORD_KEYS: tuple[str, ...] = tuple(f.label for f in MESSAGE_FIELDS)
_values = attrgetter(*RECORD_KEYS)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def message_record(message: Message) -> dict[str, Any]:
    """Every Message field, times as ISO 8601 strings, enums as their values."""
    return dict(zip(RECORD_KEYS, map(_plain, _values(message)), strict=True))
