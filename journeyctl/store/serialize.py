"""Values <-> SQLite columns: instants as integer UTC epoch microseconds, typed JSON for the rest.

Integers keep the due-time indexes small and their comparisons exact; JSON keeps contact
attributes typed (a `date` column comes back a `date`, not a string).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from datetime import date, datetime
from typing import Any, TypeVar

# Defined beside the idle minute's queries (stdlib only), used here and re-exported.
from journeyctl.store.micros import from_micros as from_micros
from journeyctl.store.micros import to_micros as to_micros

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def opt_micros(value: datetime | None) -> int | None:
    return None if value is None else to_micros(value)


def opt_datetime(value: int | None) -> datetime | None:
    return None if value is None else from_micros(value)


def memoized(convert: Callable[[K], V]) -> Callable[[K], V]:
    """`convert` with a fresh cache, for one batch of rows: instants repeat across a batch
    (every cursor at the last tick, the due times of one schedule). Use only for pure
    conversions of immutable values that depend on nothing but the value's equality."""
    cache: dict[K, V] = {}

    def call(value: K) -> V:
        out = cache.get(value)
        if out is None:
            out = cache[value] = convert(value)
        return out

    return call


def _tag(value: Any) -> Any:
    # datetime is a subclass of date: test it first.
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    raise TypeError(f"cannot store {type(value).__name__} in the database")


def _untag(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if "$datetime" in obj:
            return datetime.fromisoformat(obj["$datetime"])
        if "$date" in obj:
            return date.fromisoformat(obj["$date"])
    return obj


# Built once: json.dumps/json.loads with options construct a new coder on every call, which
# cost more than the coding itself for the small objects of the hot path.
_ENCODE = json.JSONEncoder(
    default=_tag, ensure_ascii=False, sort_keys=True, separators=(",", ":")
).encode
_DECODE = json.JSONDecoder(object_hook=_untag).decode


def dumps(value: Any) -> str:
    """Compact, key-sorted JSON with dates and datetimes tagged."""
    if not value and (value == {} or value == []):
        return "{}" if isinstance(value, dict) else "[]"
    return _ENCODE(value)


def loads(text: str) -> Any:
    if text == "{}":  # the common case (no attributes, triggers, suppressions)
        return {}
    if text == "[]":
        return []
    return _DECODE(text)


def props_json(props: tuple[tuple[str, Any], ...]) -> str:
    """Event properties in a canonical text form: part of the natural key (SPEC §3)."""
    return dumps([list(p) for p in props])


def props_from_json(text: str) -> tuple[tuple[str, Any], ...]:
    if text == "[]":  # most events have no properties
        return ()
    return tuple((k, v) for k, v in loads(text))
