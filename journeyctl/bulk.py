"""The cyclic garbage collector paused around bulk work that builds many acyclic objects.

Python collects its youngest generation every 700 net allocations, and each collection
walks every young container; a long loop that keeps what it builds (rows read, messages
simulated) or allocates dozens of short-lived containers per item (a tick) pays that walk
over and over, and the older generations' walks grow with the heap. Callers collect the
youngest generation themselves at their batch boundaries (`collect_young`), so cyclic
garbage still never outlives a batch.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Automatic collections off for the block; back on afterwards, also when it fails."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def collect_young() -> None:
    """A batch's garbage is gone: cycles among it are freed here (cheap: the young are few)."""
    gc.collect(0)
