"""The file outbox (the default channel): one JSON line per message in `<path>/<channel>.jsonl`.

A line counts as delivered only when it is complete: it ends with the `"delivered": true`
marker and a newline. A line torn by a crash is ignored and terminated before the next write,
so the message it held is delivered again - once. Keys already in the file are not written
twice, which makes this channel exactly-once.

Each line is one unbuffered write, so a kill -9 loses nothing written; fsync runs every
`fsync_every` lines, on `sync()` and on `close()`. The runtime records outbox messages as
sent only after `sync()`, so a power cut can lose only lines the ledger still holds as
`attempting`, which recovery delivers again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from operator import attrgetter
from pathlib import Path
from typing import IO, Any, get_args, get_type_hints

from journeyctl.channels.base import Receipt
from journeyctl.channels.records import MESSAGE_FIELDS
from journeyctl.engine.model import Message

_KEY_PREFIX = b'{"key": "'


def _record_maker() -> Callable[[Message], dict[str, Any]]:
    """`message_record` specialised once for Message's field types (the outbox's hot path):
    one attrgetter call, then only the datetime and enum fields converted."""
    hints = get_type_hints(Message)
    stamps, enums = [], []
    for name in MESSAGE_FIELDS:
        kinds = get_args(hints[name]) or (hints[name],)
        if datetime in kinds:
            stamps.append(name)
        elif any(isinstance(k, type) and issubclass(k, Enum) for k in kinds):
            enums.append(name)
    values = attrgetter(*MESSAGE_FIELDS)

    def record(message: Message) -> dict[str, Any]:
        out = dict(zip(MESSAGE_FIELDS, values(message), strict=True))
        for name in stamps:
            if out[name] is not None:
                out[name] = out[name].isoformat()
        for name in enums:
            if out[name] is not None:
                out[name] = out[name].value
        return out

    return record


_record = _record_maker()
# Built once (json.dumps with an option builds an encoder per call); same output as
# json.dumps(record, ensure_ascii=False).
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode
_DELIVERED_END = b', "delivered": true}\n'


def _key_of(line: bytes) -> str | None:
    """The key of a complete outbox line, read without parsing the whole line when possible."""
    if not line.endswith(_DELIVERED_END):
        return None
    if line.startswith(_KEY_PREFIX):
        end = line.find(b'"', len(_KEY_PREFIX))
        if end > 0 and b"\\" not in line[len(_KEY_PREFIX) : end]:
            return line[len(_KEY_PREFIX) : end].decode("utf-8", "replace")
    try:
        record = json.loads(line)
    except ValueError:
        return None
    key = record.get("key") if isinstance(record, dict) else None
    return key if isinstance(key, str) else None


class FileOutbox:
    def __init__(
        self, name: str, *, path: Path, medium: str = "email", fsync_every: int = 1000
    ) -> None:
        self.name, self.medium = name, medium
        self.file = path / f"{name}.jsonl"
        self.fsync_every = max(1, fsync_every)
        self._fh: IO[bytes] | None = None
        self._index: dict[str, int] | None = None  # key -> line number (1-based)
        self._lines = 0
        self._unsynced = 0
        self._torn = False  # the file ends in a line cut short by a crash

    @classmethod
    def from_config(cls, name: str, config: dict[str, Any], *, base_dir: Path) -> FileOutbox:
        path = Path(config["path"])
        return cls(
            name, path=path if path.is_absolute() else base_dir / path, medium=config["medium"]
        )

    def open(self) -> None:
        if self._fh is not None:
            return
        self.file.parent.mkdir(parents=True, exist_ok=True)
        if self._index is None:
            self._load_index()
        # Unbuffered append: each line is one write() call, so it reaches the OS at once.
        self._fh = open(self.file, "ab", buffering=0)  # noqa: SIM115 - closed in close()
        if self._torn:
            self._write(b"\n")  # end the torn line (already counted) so the next starts clean
            self._torn = False

    def _load_index(self) -> None:
        index: dict[str, int] = {}
        self._torn = False
        count = 0
        if self.file.exists():
            with open(self.file, "rb") as fh:
                for count, line in enumerate(fh, start=1):
                    key = _key_of(line)
                    if key is not None:
                        index.setdefault(key, count)
                    elif not line.endswith(b"\n"):
                        self._torn = True
        self._index, self._lines = index, count

    def already_delivered(self, key: str) -> bool:
        """True if a complete line for `key` is in the file (crash recovery asks this)."""
        if self._index is None:
            self._load_index()
        assert self._index is not None
        return key in self._index

    def deliver(self, message: Message) -> Receipt:
        self.open()
        assert self._fh is not None and self._index is not None
        if message.key in self._index:
            return Receipt(message.key, provider_id=f"{self.file.name}:{self._index[message.key]}")
        record = _record(message)  # == message_record(message), tested
        record["delivered"] = True  # last field: a line that has it was written whole
        line = _ENCODE(record).encode("utf-8") + b"\n"
        self._write(line)
        self._lines += 1
        self._index[message.key] = self._lines
        self._unsynced += 1
        if self._unsynced >= self.fsync_every:
            self._sync()
        return Receipt(message.key, provider_id=f"{self.file.name}:{self._lines}")

    def _write(self, data: bytes) -> None:
        assert self._fh is not None
        view = memoryview(data)
        while view:  # a raw write may be partial (signal, full disk); finish it
            written = self._fh.write(view) or 0
            view = view[written:]

    def sync(self) -> None:
        """fsync what was written: the runtime calls this before it records lines as sent."""
        if self._fh is not None and self._unsynced:
            os.fsync(self._fh.fileno())
            self._unsynced = 0

    _sync = sync

    def close(self) -> None:
        if self._fh is not None:
            self._sync()
            self._fh.close()
            self._fh = None
