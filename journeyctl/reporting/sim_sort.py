"""Rows sorted over a whole simulation without holding them all: an external merge sort.

Each chunk's rows arrive sorted. They are buffered up to `limit` rows, then sorted together
(timsort merges the sorted chunks in C) and written to a temporary file as one run, in
batches. `merged()` streams every run and the rows still buffered through one heap merge.
A row is a tuple whose last item is its text; the items before it make every row distinct,
so the merge never compares texts and ties keep the order the rows were given in.
"""

from __future__ import annotations

import heapq
import os
import pickle
import tempfile
from collections.abc import Iterator
from itertools import chain
from typing import IO, Any

LIMIT = 200_000  # rows held before a run is written
_BATCH = 4096  # rows per pickled batch of a run: the merge holds one batch of every run


class SortedSpill:
    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit or LIMIT
        self._chunks: list[list[tuple[Any, ...]]] = []
        self._held = 0
        self._file: IO[bytes] | None = None
        self._end = 0
        self._runs: list[list[tuple[int, int]]] = []
        self.rows = 0

    def add(self, rows: list[tuple[Any, ...]]) -> None:
        """One chunk's rows, already sorted."""
        if not rows:
            return
        self._chunks.append(rows)
        self._held += len(rows)
        self.rows += len(rows)
        if self._held >= self.limit:
            self._spill()

    def _sorted_held(self) -> list[tuple[Any, ...]]:
        if len(self._chunks) == 1:
            rows = self._chunks[0]
        else:
            rows = list(chain.from_iterable(self._chunks))
            rows.sort()
        self._chunks = []
        self._held = 0
        return rows

    def _spill(self) -> None:
        rows = self._sorted_held()
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="journeyctl-sort-")  # noqa: SIM115  # closed by close()
        fd = self._file.fileno()
        run = []
        for lo in range(0, len(rows), _BATCH):
            blob = pickle.dumps(rows[lo : lo + _BATCH], protocol=pickle.HIGHEST_PROTOCOL)
            os.pwrite(fd, blob, self._end)
            run.append((self._end, len(blob)))
            self._end += len(blob)
        self._runs.append(run)

    def _read(self, run: list[tuple[int, int]]) -> Iterator[tuple[Any, ...]]:
        assert self._file is not None
        fd = self._file.fileno()
        for at, size in run:
            yield from pickle.loads(os.pread(fd, size, at))

    def merged(self) -> Iterator[tuple[Any, ...]]:
        """Every row, in order (once)."""
        held = self._sorted_held()
        if not self._runs:
            return iter(held)
        return heapq.merge(*(self._read(run) for run in self._runs), held)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
