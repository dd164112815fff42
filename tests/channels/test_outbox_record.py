"""The outbox's specialised line builder writes exactly what `message_record` gives."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone

from journeyctl.channels.outbox import _line
from journeyctl.channels.records import message_record
from journeyctl.engine.model import Message, Status


def _reference(m: Message) -> bytes:
    record = {**message_record(m), "delivered": True}
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


def test_outbox_line_equals_json_of_message_record_byte_for_byte() -> None:
    full = Message(
        _key="k1", contact_id="c1", sequence="welcome", step="hello", channel="email",
        at=datetime(2026, 11, 2, 1, tzinfo=UTC), status=Status.SKIPPED, enrollment_id="e1",
        is_marketing=True, reason="late", deferred_from=datetime(2026, 11, 1, 13, tzinfo=UTC),
        deferred_by="quiet_hours", variant="b", subject="(광고) 안녕", text="t", html="<p>h</p>",
        to="c1@example.com", unsubscribe_url="https://example.com/u/x",
    )  # fmt: skip
    empty = dataclasses.replace(full, status=Status.SENT, reason=None, deferred_from=None)
    # Characters JSON must escape, and a zone with an offset and microseconds.
    awkward = dataclasses.replace(
        full,
        _key='k"\\2',
        subject='"따옴표" \\ back\tslash\n%s %(x)s {0}',
        text="\x00\x1f\u2028 ✓ 😀",
        html=None,
        at=datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=timezone(timedelta(hours=9))),
        is_marketing=False,
    )
    # The same instant in UTC and in another zone (lines cache UTC timestamps), twice each.
    seoul = dataclasses.replace(full, at=full.at.astimezone(timezone(timedelta(hours=9))))
    utc_again = dataclasses.replace(full, at=datetime(2026, 11, 2, 1, tzinfo=UTC))
    for m in (full, empty, awkward, seoul, utc_again, seoul, full):
        line = _line(m)
        assert line == _reference(m)
        assert json.loads(line) == {**message_record(m), "delivered": True}
