"""The outbox file's bytes, fixed: readers of `<channel>.jsonl` parse these lines, so a change to
how a message becomes a line must leave them byte for byte as they are."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from journeyctl.channels.outbox import FileOutbox
from journeyctl.engine.model import Message, Status

FULL = Message(
    "k1", "c1", "welcome", "hello", "email", datetime(2026, 11, 2, 1, 2, 3, 4, tzinfo=UTC),
    Status.SKIPPED, "welcome:c1:0", True, "late", datetime(2026, 11, 1, 13, tzinfo=UTC),
    "quiet_hours", "b", '(광고) "안녕" \\ 😀', "line\nnext\t\x00", "<p>h</p>", "c1@example.com",
    "https://example.com/u/x",
)  # fmt: skip
BARE = Message(
    None, "c2", "welcome", "hello", "sms", datetime(2026, 11, 2, tzinfo=UTC), Status.SENT,
    "welcome:c2:0", False,
)  # fmt: skip

GOLDEN = (
    '{"key": "k1", "contact_id": "c1", "sequence": "welcome", "step": "hello", '
    '"channel": "email", "at": "2026-11-02T01:02:03.000004+00:00", "status": "skipped", '
    '"enrollment_id": "welcome:c1:0", "is_marketing": true, "reason": "late", '
    '"deferred_from": "2026-11-01T13:00:00+00:00", "deferred_by": "quiet_hours", '
    '"variant": "b", "subject": "(광고) \\"안녕\\" \\\\ 😀", "text": "line\\nnext\\t\\u0000", '
    '"html": "<p>h</p>", "to": "c1@example.com", "unsubscribe_url": "https://example.com/u/x", '
    '"delivered": true}\n'
    '{"key": "d7af7b9ba9b63b21a52f343f1f7cc244", "contact_id": "c2", "sequence": "welcome", '
    '"step": "hello", "channel": "sms", "at": "2026-11-02T00:00:00+00:00", "status": "sent", '
    '"enrollment_id": "welcome:c2:0", "is_marketing": false, "reason": null, '
    '"deferred_from": null, "deferred_by": null, "variant": null, "subject": null, '
    '"text": null, "html": null, "to": null, "unsubscribe_url": null, "delivered": true}\n'
)


def test_outbox_lines_are_byte_for_byte_the_golden(tmp_path: Path) -> None:
    outbox = FileOutbox("email", path=tmp_path)
    for m in (FULL, BARE):
        outbox.deliver(m)
    outbox.close()
    expected = GOLDEN.replace("3b1c8e9d8f1d0c7e4f0b0f8d", BARE.key)
    assert (tmp_path / "email.jsonl").read_bytes() == expected.encode("utf-8")
