"""Instants as the store keeps them: integer UTC epoch microseconds (exact; no float rounding).

Stdlib only: the idle cron minute (store.sqlite_idle) converts with the same functions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch (exact; no float rounding)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} reached the store")
    return (value - _EPOCH) // _MICRO


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)
