"""The outbox's specialised record builder writes exactly what `message_record` gives."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from journeyctl.channels.outbox import _record
from journeyctl.channels.records import message_record
from journeyctl.engine.model import Message, Status


def test_outbox_record_equals_message_record_field_for_field() -> None:
    full = Message(
        key="k1", contact_id="c1", sequence="welcome", step="hello", channel="email",
        at=datetime(2026, 11, 2, 1, tzinfo=UTC), status=Status.SKIPPED, enrollment_id="e1",
        is_marketing=True, reason="late", deferred_from=datetime(2026, 11, 1, 13, tzinfo=UTC),
        deferred_by="quiet_hours", variant="b", subject="(광고) 안녕", text="t", html="<p>h</p>",
        to="c1@example.com", unsubscribe_url="https://example.com/u/x",
    )  # fmt: skip
    empty = dataclasses.replace(full, status=Status.SENT, reason=None, deferred_from=None)
    for m in (full, empty):
        assert list(_record(m).items()) == list(message_record(m).items())
