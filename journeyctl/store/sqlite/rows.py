"""Model objects to and from table rows, derived from the model's declarations.

A ledger row begins with the message's fields (engine.model.MESSAGE_FIELDS) and an
enrollments row holds the enrollment's fields, each in declaration order and in the column
of its label. A new field is its declaration (engine/model.py) plus its column
(store/migrations.py); the codecs here follow.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import Enum
from operator import attrgetter
from typing import Any, Generic, TypeVar

from journeyctl.engine.model import Enrollment, Message, TriggerMark, serial_fields
from journeyctl.store.base import Delivery, LedgerRow
from journeyctl.store.serialize import (
    dumps,
    from_micros,
    loads,
    opt_datetime,
    opt_micros,
    to_micros,
)

T = TypeVar("T")


class RowCodec(Generic[T]):
    """`cls` as a row: its field values in declaration order, instants as integer microseconds,
    enum members as their values; booleans come back from SQLite's 0 and 1."""

    def __init__(self, cls: type[T], column_of: Mapping[str, str] | None = None) -> None:
        declared = serial_fields(cls)
        rename = column_of or {}
        self.cls = cls
        self.fields = declared
        self.column_names = tuple(rename.get(f.label, f.label) for f in declared)
        self.columns = ", ".join(self.column_names)
        self._values = attrgetter(*(f.label for f in declared))
        self._instants = tuple(i for i, f in enumerate(declared) if f.type is datetime)
        self._enums = tuple(
            (i, {m.value: m for m in f.type})  # type: ignore[attr-defined]
            for i, f in enumerate(declared)
            if issubclass(f.type, Enum)
        )
        self._bools = tuple(i for i, f in enumerate(declared) if f.type is bool)

    def row(self, obj: T, micros: Callable[[datetime], int] = to_micros) -> tuple[Any, ...]:
        row = list(self._values(obj))
        for i in self._instants:
            if row[i] is not None:
                row[i] = micros(row[i])
        for i, _ in self._enums:
            if row[i] is not None:
                row[i] = row[i].value
        return tuple(row)

    def decode(
        self,
        r: tuple[Any, ...] | sqlite3.Row,
        instant: Callable[[int], datetime] = from_micros,
    ) -> T:
        """The object of a row's first len(fields) columns (every history message and every
        enrollment of every loaded contact comes through here)."""
        values = list(r)
        for i in self._instants:
            if values[i] is not None:
                values[i] = instant(values[i])
        for i, members in self._enums:
            if values[i] is not None:
                values[i] = members[values[i]]
        for i in self._bools:
            if values[i] is not None:
                values[i] = bool(values[i])
        return self.cls(*values)


# `key` holds the key made (Message.key), and `to` is a keyword in SQL.
MESSAGES: RowCodec[Message] = RowCodec(Message, {"to": "to_addr"})
N_MESSAGE = len(MESSAGES.fields)
MESSAGE_COLUMNS = MESSAGES.columns
LEDGER_COLUMNS = (
    f"{MESSAGE_COLUMNS}, state, attempts, next_attempt_at, delivered_at, provider_id, error"
)


def ledger_row(r: Any) -> LedgerRow:
    """A row of `SELECT {LEDGER_COLUMNS}` as the Store protocol's LedgerRow (either store)."""
    state, attempts, next_attempt_at, delivered_at, _, error = r[N_MESSAGE:]
    return LedgerRow(
        message=MESSAGES.decode(r[:N_MESSAGE]),
        state=Delivery(state),
        attempts=attempts,
        next_attempt_at=opt_datetime(next_attempt_at),
        delivered_at=opt_datetime(delivered_at),
        error=error,
    )


# History rows for the engine (load_many): the message columns with the bodies left NULL.
HISTORY_COLUMNS = ", ".join(
    c if f.history else "NULL" for f, c in zip(MESSAGES.fields, MESSAGES.column_names, strict=True)
)

ENROLLMENTS: RowCodec[Enrollment] = RowCodec(Enrollment)
# The enrollment's fields, then `seq`: its place among its contact's enrollments.
_ENROLLMENT_COLUMNS = (*ENROLLMENTS.column_names, "seq")
# An upsert, not INSERT OR REPLACE: an enrollment that moved on is updated in place, so
# only the indexes whose columns changed are touched (REPLACE deletes and re-inserts).
SAVE_ENROLLMENT = (
    f"INSERT INTO enrollments({', '.join(_ENROLLMENT_COLUMNS)}) "
    f"VALUES ({','.join('?' * len(_ENROLLMENT_COLUMNS))}) ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _ENROLLMENT_COLUMNS if c != "id")
)


def enrollment_row(
    e: Enrollment, seq: int, micros: Callable[[datetime], int] = to_micros
) -> tuple[Any, ...]:
    return (*ENROLLMENTS.row(e, micros), seq)


def triggers_json(triggers: dict[str, TriggerMark]) -> str:
    return dumps({k: [opt_micros(m.checked_at), m.value] for k, m in triggers.items()})


def triggers_of(text: str) -> dict[str, TriggerMark]:
    return {k: TriggerMark(opt_datetime(c), v) for k, (c, v) in loads(text).items()}
