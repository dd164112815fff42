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
from datetime import UTC, datetime
from json.encoder import encode_basestring as _string  # type: ignore[attr-defined]
from operator import attrgetter
from pathlib import Path
from typing import IO, Any

from journeyctl import faults
from journeyctl.channels.base import Receipt
from journeyctl.channels.records import RECORD_KEYS
from journeyctl.engine.model import MESSAGE_FIELDS, Message

_KEY_PREFIX = b'{"key": "'


def _line_maker() -> Callable[[Message], bytes]:
    """The outbox line of a message (the hot path): byte for byte
    `json.dumps({**message_record(m), "delivered": True}, ensure_ascii=False) + "\n"`, built
    field by field into one format string, without the record dict or a JSON encoder run."""
    for f in MESSAGE_FIELDS:
        # StrEnum members are str: their JSON is their value. Other types need the encoder.
        # (`object`: an optional field whose type a compiled class forgot; the pure-Python
        # import checks it, tests/engine/test_native.py.)
        if not (f.type in (bool, datetime, object) or issubclass(f.type, str)):
            raise ImportError(f"the outbox line cannot encode Message.{f.name}: {f.type}")
    values = attrgetter(*RECORD_KEYS)
    # Field names are fixed identifiers (no `%`), so the pattern takes the values verbatim.
    pattern = "{" + ", ".join(f'"{key}": %s' for key in RECORD_KEYS)
    pattern += ', "delivered": true}\n'  # last: a line that has it was written whole

    # The JSON string of each UTC instant seen: a tick's messages share few `at` values, and
    # isoformat() costs about a fifth of a line. Equal UTC datetimes print alike.
    stamps: dict[datetime, str] = {}

    def stamp(at: datetime) -> str:
        if at.tzinfo is not UTC:
            return f'"{at.isoformat()}"'  # digits and -:+T. only: nothing to escape
        out = stamps.get(at)
        if out is None:
            if len(stamps) >= 4096:
                stamps.clear()
            out = stamps[at] = f'"{at.isoformat()}"'
        return out

    def line(message: Message) -> bytes:
        return (
            pattern
            % tuple(
                [
                    "null"
                    if v is None
                    else _string(v)
                    if isinstance(v, str)
                    else ("true" if v else "false")
                    if v.__class__ is bool
                    else stamp(v)
                    for v in values(message)
                ]
            )
        ).encode()

    return line


_line = _line_maker()
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


def _private_opener(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


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
        # Created 0600: the file holds addresses and message bodies (an existing file keeps
        # the mode its owner gave it).
        self._fh = open(  # noqa: SIM115 - closed in close()
            self.file, "ab", buffering=0, opener=_private_opener
        )
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
        if self._fh is None:
            self.open()
        index = self._index
        assert index is not None
        key = message.key
        known = index.get(key)
        if known is not None:
            return Receipt(key, f"{self.file.name}:{known}")
        self._write(_line(message))  # == message_record(message) + the marker, tested
        faults.point("mid-send")
        self._lines = n = self._lines + 1
        index[key] = n
        self._unsynced += 1
        if self._unsynced >= self.fsync_every:
            self._sync()
        return Receipt(key, f"{self.file.name}:{n}")

    def _write(self, data: bytes) -> None:
        assert self._fh is not None
        written = self._fh.write(data) or 0
        if written == len(data):
            return
        view = memoryview(data)[written:]
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
