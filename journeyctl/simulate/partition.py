"""The simulate input split by contact chunk on disk, so memory follows the chunk in flight.

Contacts are read first: every `CHUNK` contacts of the file (in file order) are one chunk,
written to a temporary file as pickled tuples. Events come next, in any order: each goes to the
chunk of its contact (an id -> chunk map, the one thing kept per contact), buffered and
written in batches. A chunk is then loaded alone, by whichever process simulates it: its
contacts in file order, each contact's events in file order (what `by_contact` gives).

This is a one-pass distribution sort: the key (the chunk) is known from the contacts, so
events sorted by contact, by time, or not at all cost the same. Events of contacts that are
not in the contacts file are dropped, as simulate always did (docs/decisions/streaming.md).
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Collection, Iterator
from typing import Any

from journeyctl.data import build
from journeyctl.engine.model import Contact, Event

CHUNK = 1000  # contacts per chunk: the unit workers take and results come back in
_EVENT_BATCH = 50_000  # events buffered before they are written, over all chunks


# Rows are pickled as they come from the readers, instants as datetime objects: pickle keeps
# one copy of an object a batch refers to many times (the readers parse each distinct text
# once), and dumps and loads datetimes in C. Flattening the instants to integers for marshal
# walked every value in Python both ways, and cost more than it saved (bench/RESULTS.md).
def _encode(rows: list[tuple[Any, ...]]) -> bytes:
    return pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)


def _decode(blob: bytes) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = pickle.loads(blob)
    return rows


class Partition:
    """Contacts and events written by chunk into one temporary file, read back by chunk.

    `add_contact` every contact first, then `add_event`; `load(i)` in any process that shares
    the file (forked workers read with pread, so they never move a shared offset)."""

    def __init__(self, chunk: int | None = None) -> None:
        self.chunk = chunk or CHUNK
        self._file = tempfile.TemporaryFile(prefix="journeyctl-simulate-")  # noqa: SIM115  # close()
        self._fd = self._file.fileno()
        self._end = 0
        self.contacts = 0
        self.events = 0
        self._chunk_of: dict[str, int] = {}
        self._index = 0  # the current chunk's number: one int object shared by its contacts
        self._current: list[tuple[Any, ...]] = []
        self._contact_segments: list[tuple[int, int]] = []
        self._event_segments: list[list[tuple[int, int]]] = []
        self._pending: list[list[tuple[Any, ...]]] = []  # per chunk, the events not written
        self._buffered = 0

    def _write(self, blob: bytes) -> tuple[int, int]:
        os.pwrite(self._fd, blob, self._end)
        at = self._end
        self._end += len(blob)
        return at, len(blob)

    def add_contact(self, c: Contact) -> None:
        self.add_contact_row(build.contact_of(c))

    def add_contact_row(self, row: tuple[Any, ...]) -> None:
        """A contact as the tuple of its fields (data.build.ContactRow; the readers' rows).
        Typed as any tuple: compiled, a typed tuple would be unpacked and built again."""
        self._chunk_of[row[0]] = self._index
        self._current.append(row)
        self.contacts += 1
        if len(self._current) >= self.chunk:
            self._close_chunk()

    def _close_chunk(self) -> None:
        if self._current:
            self._contact_segments.append(self._write(_encode(self._current)))
            self._event_segments.append([])
            self._pending.append([])
            self._current = []
            self._index = len(self._contact_segments)

    def add_event(self, e: Event) -> None:
        self.add_event_row(build.event_of(e))

    def add_event_row(self, row: tuple[Any, ...]) -> None:
        """An event as the tuple of its fields (data.build.EventRow; the readers' rows)."""
        if self._current:  # the contacts are complete once events start
            self._close_chunk()
        index = self._chunk_of.get(row[0])
        if index is None:
            return
        self._pending[index].append(row)
        self.events += 1
        self._buffered += 1
        if self._buffered >= _EVENT_BATCH:
            self._flush()

    def _flush(self) -> None:
        for index, rows in enumerate(self._pending):
            if rows:
                self._event_segments[index].append(self._write(_encode(rows)))
                self._pending[index] = []
        self._buffered = 0

    def seal(self) -> int:
        """Every row written; the number of chunks. The id map is dropped: only the file and
        its offsets remain."""
        self._close_chunk()
        self._flush()
        self._chunk_of = {}
        return len(self._contact_segments)

    def _read(self, segment: tuple[int, int]) -> bytes:
        at, size = segment
        return os.pread(self._fd, size, at)

    def load(self, i: int) -> tuple[list[Contact], dict[str, list[Event]]]:
        """Chunk `i`: its contacts in file order, and their events grouped by contact."""
        rows = _decode(self._read(self._contact_segments[i]))
        contacts = [build.contact(*row) for row in rows]
        grouped: dict[str, list[Event]] = {}
        for segment in self._event_segments[i]:
            for cid, name, at, props in _decode(self._read(segment)):
                event = build.event(cid, name, at, props)
                group = grouped.get(cid)
                if group is None:
                    grouped[cid] = [event]
                else:
                    group.append(event)
        return contacts, grouped

    def inputs_of(self, wanted: Collection[str]) -> tuple[list[Contact], list[Event]]:
        """The contacts of `wanted` and their events, in file order (a page's few stories)."""
        people: list[Contact] = []
        history: list[Event] = []
        for i in range(len(self._contact_segments)):
            contacts, grouped = self.load(i)
            for c in contacts:
                if c.id in wanted:
                    people.append(c)
                    history += grouped.get(c.id, [])
        return people, history

    def sizes(self) -> Iterator[int]:
        """Contacts per chunk, in chunk order."""
        for i in range(len(self._contact_segments)):
            yield min(self.chunk, self.contacts - i * self.chunk)

    def close(self) -> None:
        self._file.close()
