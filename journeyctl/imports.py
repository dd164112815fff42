"""Contacts and events into a store: shared by `run --contacts/--events`, `contacts import` and
`events import`. Each import is all-or-nothing (one transaction) and idempotent on re-import.

SPEC §2: an event older than `events.max_age` when first seen is stored as history
(`enrolls=False`): it counts in conditions but never enrolls, so importing an old export never
mass-mails.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from journeyctl.diagnostics import Diagnostic, Location, error
from journeyctl.engine.model import Contact, Event
from journeyctl.errors import DataError
from journeyctl.store.base import Store

# SPEC §5 / simulate: a new contact is looked at once, from just before its import.
BORN_BEFORE = timedelta(microseconds=1)


@dataclass
class ImportCounts:
    contacts_new: int = 0
    contacts_seen: int = 0
    events_new: int = 0
    events_seen: int = 0
    events_history: int = 0  # new events stored as history (older than max_age)
    events_unknown: int = 0  # skipped with --skip-invalid: their contact is not in the store


def import_contacts(store: Store, contacts: Sequence[Contact], now: datetime) -> ImportCounts:
    """Upsert contacts; new ones start with `cursor = now - 1µs` (the engine sees them at now)."""
    with store.transaction():
        new = store.upsert_contacts(contacts, born=now - BORN_BEFORE)
    return ImportCounts(contacts_new=new, contacts_seen=len(contacts))


def as_imported(events: Iterable[Event], now: datetime, max_age: timedelta) -> Iterator[Event]:
    """Events as first seen at `now`: older than `max_age` they become history."""
    oldest = now - max_age
    for ev in events:
        yield ev if ev.at >= oldest or not ev.enrolls else replace(ev, enrolls=False)


def import_events(
    store: Store,
    events: Sequence[Event],
    now: datetime,
    max_age: timedelta,
    *,
    source: Path | None = None,
    skip_invalid: bool = False,
) -> ImportCounts:
    """Add events not seen before. Events of contacts the store does not know are an error
    (located in `source` when given) unless `skip_invalid`, which skips and counts them."""
    counts = ImportCounts(events_seen=len(events))
    with store.transaction():
        known = store.known_contacts({e.contact_id for e in events})
        unknown = [e for e in events if e.contact_id not in known]
        if unknown and not skip_invalid:
            raise DataError(
                unknown_contact_diagnostics(unknown, source),
                f"{len(unknown)} event(s) name contacts that are not in the database; "
                "import the contacts first (or pass --skip-invalid to skip these events)",
            )
        fresh = [e for e in as_imported(events, now, max_age) if e.contact_id in known]
        counts.events_unknown = len(unknown)
        counts.events_new = store.add_events(fresh)
        counts.events_history = sum(not e.enrolls for e in fresh)  # upper bound: re-seen too
    return counts


def unknown_contact_diagnostics(
    unknown: Sequence[Event], source: Path | None, limit: int = 20
) -> list[Diagnostic]:
    """One located diagnostic per unknown contact id (first rows naming it), for the error."""
    ids = sorted({e.contact_id for e in unknown})
    lines = _lines_naming(source, set(ids)) if source is not None else {}
    out = []
    for cid in ids[:limit]:
        line, col = lines.get(cid, (0, 0))
        out.append(
            error(
                Location(source or Path("<events>"), line, col),
                "unknown-contact",
                f"column contact_id: contact {cid!r} is not in the database",
                "import the contacts first, or pass --skip-invalid to skip these events",
            )
        )
    return out


def _lines_naming(path: Path, ids: set[str]) -> dict[str, tuple[int, int]]:
    """(line, column) of the first row naming each id; the slow path, only on errors."""
    from journeyctl.data import decode
    from journeyctl.data.source import is_jsonl

    found: dict[str, tuple[int, int]] = {}
    try:
        enc = decode.resolve_encoding(path, None)
        with open(path, encoding=enc, newline="") as fh:
            if is_jsonl(path):
                for n, text in enumerate(fh, start=1):
                    try:
                        cid = str(json.loads(text).get("contact_id", ""))
                    except (ValueError, AttributeError):
                        continue
                    if cid in ids:
                        found.setdefault(cid, (n, 1))
                return found
            reader = csv.reader(fh)
            header = [c.strip().lstrip("\ufeff") for c in next(reader, [])]
            col = header.index("contact_id") if "contact_id" in header else -1
            line = reader.line_num
            for row in reader:
                if 0 <= col < len(row) and row[col].strip() in ids:
                    found.setdefault(row[col].strip(), (line + 1, col + 1))
                line = reader.line_num
    except (OSError, UnicodeError, csv.Error):
        pass
    return found
