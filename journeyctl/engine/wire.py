"""Decisions as flat tuples of plain values: how simulate's workers send theirs to the parent.

The tuples are the model's flat form (engine.model.Flat: the one pickling uses too), so the
message's and the enrollment's fields are read from their declarations, not written out here.
marshal moves tuples of str, int, bool and None faster than pickle moves the same objects
one by one (bench/RESULTS.md); the engine's instants are all UTC, so every one
of them travels as an integer.
"""

from __future__ import annotations

import marshal
from datetime import datetime
from typing import Any, Final

from journeyctl.engine.model import Enrollment, Flat, Message

_MESSAGE: Final = Flat(Message)
_ENROLLMENT: Final = Flat(Enrollment)


def pack(messages: list[Message], enrollments: list[Enrollment], extra: Any) -> bytes:
    """`extra`: anything else marshal takes as it is (str/int/float/None, tuples, lists, dicts)."""
    message, enrollment = _MESSAGE.dump, _ENROLLMENT.dump
    return marshal.dumps(
        ([message(m) for m in messages], [enrollment(e) for e in enrollments], extra)
    )


def unpack(blob: bytes) -> tuple[list[Message], list[Enrollment], Any]:
    msgs, enrs, extra = marshal.loads(blob)
    seen: dict[int, datetime] = {}  # one datetime per instant of the batch
    message, enrollment = _MESSAGE.load, _ENROLLMENT.load
    return (
        [message(m, seen) for m in msgs],
        [enrollment(e, seen) for e in enrs],
        extra,
    )
