"""`journeyctl db prune`: the cut-off checked against what still looks back, then one
transaction on the store (store/retention.py says what goes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from journeyctl.errors import UsageError
from journeyctl.store.micros import to_micros
from journeyctl.store.retention import Pruned, prune

# The engine reads sent messages back: the frequency cap counts marketing sends within its
# `per`, and `sent()`/`opened()`/`clicked()` look at earlier messages. A cut-off closer than
# this to now would let a cap count fewer sends than were made; a project whose cap looks back
# further raises it (`floor`).
FLOOR = timedelta(days=30)


@dataclass(frozen=True)
class PruneReport:
    before: datetime
    dry_run: bool
    events: bool
    pruned: Pruned


def check_cutoff(before: datetime, now: datetime, floor: timedelta) -> None:
    """A UsageError when `before` is later than `now - floor` (it would cut into the history
    the engine still reads)."""
    latest = now - floor
    if before > latest:
        days = floor.days
        raise UsageError(
            f"--before: {before.isoformat()} is less than {days} days before now "
            f"({now.isoformat()}); the frequency cap and sent()/opened()/clicked() read that "
            f"much history back: give a cut-off at or before {latest.isoformat()}"
        )


def run_prune(
    store: Any, conn: Any, before: datetime, *, events: bool, dry_run: bool
) -> PruneReport:
    """Prune `store` (its DB-API connection `conn`) in one transaction."""
    with store.transaction():
        pruned = prune(conn, to_micros(before), events=events, dry_run=dry_run)
    return PruneReport(before=before, dry_run=dry_run, events=events, pruned=pruned)
