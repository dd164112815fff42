"""FileOutbox: JSON lines on disk, exactly-once per key, torn-line recovery."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from journeyctl.channels.outbox import FileOutbox
from journeyctl.engine.model import Message

MessageFactory = Callable[..., Message]


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_one_json_line_per_message_with_every_field(
    tmp_path: Path, message: MessageFactory
) -> None:
    outbox = FileOutbox("outbox", path=tmp_path / "out")
    msg = message(subject="안녕하세요", is_marketing=True, unsubscribe_url="https://x.test/u/t")
    receipt = outbox.deliver(msg)
    outbox.deliver(message(key="k2", variant="a"))
    outbox.close()

    file = tmp_path / "out" / "outbox.jsonl"
    assert receipt.provider_id == "outbox.jsonl:1"
    first, second = read_lines(file)
    assert first == {
        "key": "c1:welcome:e1:hello",
        "contact_id": "c1",
        "sequence": "welcome",
        "step": "hello",
        "channel": "email",
        "at": "2025-03-04T09:00:00+00:00",
        "status": "sent",
        "enrollment_id": "e1",
        "is_marketing": True,
        "reason": None,
        "deferred_from": None,
        "deferred_by": None,
        "variant": None,
        "subject": "안녕하세요",
        "text": "Hi Ada,\nwelcome aboard.\n",
        "html": "<p>Hi Ada,</p><p>welcome aboard.</p>",
        "to": "ada@example.com",
        "unsubscribe_url": "https://x.test/u/t",
        "delivered": True,
    }
    assert second["key"] == "k2" and second["variant"] == "a"
    assert "안녕하세요" in file.read_text(encoding="utf-8")  # UTF-8, not \\u escapes


def test_lines_are_on_disk_before_close(tmp_path: Path, message: MessageFactory) -> None:
    outbox = FileOutbox("outbox", path=tmp_path)
    outbox.deliver(message())
    # A crash now (no close) must not lose the line: it was written unbuffered.
    assert [r["key"] for r in read_lines(tmp_path / "outbox.jsonl")] == ["c1:welcome:e1:hello"]
    outbox.close()


def test_same_key_is_written_once_across_runs(tmp_path: Path, message: MessageFactory) -> None:
    first = FileOutbox("outbox", path=tmp_path)
    first.deliver(message(key="a"))
    first.deliver(message(key="b"))
    first.close()

    second = FileOutbox("outbox", path=tmp_path)  # a new process after a crash
    assert second.already_delivered("a")
    assert second.already_delivered("b")
    assert not second.already_delivered("c")
    again = second.deliver(message(key="a"))
    second.deliver(message(key="c"))
    second.close()

    assert again.provider_id == "outbox.jsonl:1"
    assert [r["key"] for r in read_lines(tmp_path / "outbox.jsonl")] == ["a", "b", "c"]


def test_torn_last_line_is_not_delivered_and_is_repaired(
    tmp_path: Path, message: MessageFactory
) -> None:
    file = tmp_path / "outbox.jsonl"
    outbox = FileOutbox("outbox", path=tmp_path)
    outbox.deliver(message(key="whole"))
    outbox.close()
    with open(file, "ab") as fh:  # the process died in the middle of writing "torn"
        fh.write(b'{"key": "torn", "contact_id": "c1", "sequ')

    recovered = FileOutbox("outbox", path=tmp_path)
    assert recovered.already_delivered("whole")
    assert not recovered.already_delivered("torn")
    receipt = recovered.deliver(message(key="torn"))
    recovered.close()

    lines = file.read_bytes().split(b"\n")
    assert lines[1] == b'{"key": "torn", "contact_id": "c1", "sequ'  # kept, ended by "\n"
    assert json.loads(lines[2])["key"] == "torn"
    assert receipt.provider_id == "outbox.jsonl:3"
    assert FileOutbox("outbox", path=tmp_path).already_delivered("torn")


def test_keys_needing_json_escapes_are_indexed(tmp_path: Path, message: MessageFactory) -> None:
    key = 'c"1\\x:키'
    outbox = FileOutbox("outbox", path=tmp_path)
    outbox.deliver(message(key=key))
    outbox.close()
    assert FileOutbox("outbox", path=tmp_path).already_delivered(key)


def test_fsync_every_n_and_on_close(
    tmp_path: Path, message: MessageFactory, monkeypatch: object
) -> None:
    import os

    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)  # type: ignore[attr-defined]
    outbox = FileOutbox("outbox", path=tmp_path, fsync_every=3)
    for i in range(7):
        outbox.deliver(message(key=f"k{i}"))
    assert len(synced) == 2  # after the 3rd and the 6th
    outbox.close()
    assert len(synced) == 3  # the 7th, on close
    outbox.close()
    assert len(synced) == 3
