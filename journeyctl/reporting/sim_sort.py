"""Rows sorted over a whole simulation without holding them all: an external merge sort.

Each chunk's rows arrive sorted. They are buffered up to `limit` rows, then sorted together
(timsort merges the sorted chunks in C) and written to a temporary file as one run, in
batches. `merged()` streams every run and the rows still buffered, merged a slice at a time:
every row up to the smallest of the runs' last buffered rows can go out, so those slices are
sorted together (timsort again merges them in C) instead of passing each row through a heap.
A row is a tuple whose last item is its text; the items before it make every row distinct,
so the merge never compares texts and ties keep the order the rows were given in.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from bisect import bisect_right
from collections.abc import Iterator
from itertools import chain
from typing import IO, Any

# Rows held before a run is written: a run costs a pickling, a write, a read and an unpickling
# of each of its rows, and the memory goals afford holding this many (the messages of a month
# of 100k contacts need no run; docs/decisions/sim-output.md).
LIMIT = 500_000
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

    def merged(self) -> Iterator[tuple[Any, ...]]:
        """Every row, in order (once)."""
        held = self._sorted_held()
        if not self._runs:
            return iter(held)
        return _merge([self._batches(run) for run in self._runs], held)

    def _batches(self, run: list[tuple[int, int]]) -> Iterator[list[tuple[Any, ...]]]:
        assert self._file is not None
        fd = self._file.fileno()
        for at, size in run:
            yield pickle.loads(os.pread(fd, size, at))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _merge(
    runs: list[Iterator[list[tuple[Any, ...]]]], held: list[tuple[Any, ...]]
) -> Iterator[tuple[Any, ...]]:
    """The sorted batches of `runs` and the sorted list `held`, merged. Each round takes from
    every run its buffered rows up to the least of their last rows (no row still to be read
    can come before that one), sorts them together and yields them; a run whose buffer is
    used up reads its next batch."""
    # per run: its buffered batch, where the rows not yet taken begin, the batches after it
    sources: list[tuple[list[tuple[Any, ...]], int, Iterator[list[tuple[Any, ...]]]]] = []
    for run in [*runs, iter([held])]:
        first = next(run, [])
        if first:
            sources.append((first, 0, run))
    while sources:
        bound = min(buf[-1] for buf, _, _ in sources)
        out: list[tuple[Any, ...]] = []
        kept = []
        for buf, start, run in sources:
            cut = bisect_right(buf, bound, start)
            out += buf[start:cut]
            if cut < len(buf):
                kept.append((buf, cut, run))
            elif batch := next(run, []):
                kept.append((batch, 0, run))
        sources = kept
        out.sort()
        yield from out
