"""reporting.sim_sort: rows added chunk by chunk come out as one sort of them all, whatever
the buffer and batch sizes (runs on disk, merged a slice at a time)."""

from __future__ import annotations

import random

import pytest

from journeyctl.reporting import sim_sort


@pytest.mark.parametrize("seed", range(200))
def test_merged_is_the_sort_of_every_row(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rnd = random.Random(seed)
    monkeypatch.setattr(sim_sort, "_BATCH", rnd.randint(1, 10))
    spill = sim_sort.SortedSpill(rnd.randint(1, 60))
    every = []
    for chunk in range(rnd.randint(0, 30)):
        # few distinct times and ids: ties broken by chunk and position, as the real rows
        rows = sorted(
            (rnd.randint(0, 20), rnd.choice("abc"), chunk, pos, f"{chunk}:{pos}".encode())
            for pos in range(rnd.randint(0, 15))
        )
        every += rows
        spill.add(rows)
    try:
        assert list(spill.merged()) == sorted(every)
    finally:
        spill.close()
