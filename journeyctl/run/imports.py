"""Contacts and events into a store: shared by `run --contacts/--events`, `contacts import` and
`events import`. Each import is all-or-nothing (one transaction) and idempotent on re-import.

SPEC §2: an event older than `events.max_age` when first seen is stored as history
(`enrolls=False`): it counts in conditions but never enrolls, so importing an old export never
mass-mails.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from journeyctl import faults
from journeyctl.diagnostics import Diagnostic, Location, error, warning
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
    unknown: list[Diagnostic] = field(default_factory=list)  # where those events are (warnings)


class UnknownContacts(DataError):
    """Events name contacts the store does not know, and skip_invalid was not given."""

    def __init__(self, diagnostics: list[Diagnostic], events: int, contacts: int):
        super().__init__(
            diagnostics,
            f"{events} event(s) name {contacts} contact(s) that are not in the database; "
            "import the contacts first (or pass --skip-invalid to skip these events)",
        )
        self.events = events
        self.contacts = contacts


@dataclass
class InputReport:
    """What became of one input file (`--contacts`, `--events`): the rows it gave, the bad rows
    left out and the file they were written to, or why the whole file was held back. Commands
    print it on stderr and put it in their JSON; nothing is left out without a word."""

    kind: str  # "contacts" | "events"
    path: Path
    rows: int = 0  # good rows read
    rejected: int = 0  # bad rows left out (skip_invalid) and written to `rejects`
    rejects: Path | None = None  # the rejects file written (skip_invalid), even when empty
    unknown_contact: int = 0  # events left out (skip_invalid): their contact is not in the store
    held_back: str | None = None  # why nothing of this file was imported
    held_rows: int = 0  # with held_back: the rows at fault (0 when the file is unreadable)
    diagnostics: list[Diagnostic] = field(default_factory=list)  # located, errors first

    def hold_back(self, why: str, rows: int, diagnostics: Sequence[Diagnostic]) -> None:
        self.held_back = why
        self.held_rows = rows
        self.rows = 0
        self.diagnostics = [*diagnostics, *self.diagnostics]


def held_back_summary(inputs: Sequence[InputReport]) -> str | None:
    """One line for the `runs` table: which files were held back and why."""
    held = [f"{r.path}: {r.held_back}" for r in inputs if r.held_back]
    return "held back: " + "; ".join(held) if held else None


def import_files(
    store: Store,
    contacts: Sequence[Contact],
    events: Sequence[Event],
    now: datetime,
    max_age: timedelta,
    *,
    events_source: Path | None = None,
    skip_invalid: bool = False,
    inputs: Sequence[InputReport] | None = None,
) -> ImportCounts:
    """A run's imports, contacts then events, in one transaction.

    Events that name contacts the store does not know (after this import): with
    `skip_invalid` they are left out, counted and located; without it they are an
    UnknownContacts error, unless the run reports on its files (`inputs` has an events
    report): then the events file alone is held back (all-or-nothing per file), the contacts
    stay imported and the tick goes on (docs/run.md, "Bad rows")."""
    with store.transaction():
        counts = import_contacts(store, contacts, now) if contacts else ImportCounts()
        if not events:
            return counts
        report = next((r for r in inputs or () if r.kind == "events"), None)
        try:
            ev = import_events(
                store, events, now, max_age, source=events_source, skip_invalid=skip_invalid
            )
        except UnknownContacts as exc:
            if report is None:
                raise
            # Nothing was written by import_events: its check comes before any write.
            held = [r.path.name for r in inputs or () if r.kind == "contacts" and r.held_back]
            if held:
                # Their contacts are in the contacts file held back for its bad rows: leave
                # out only their events, so existing customers' order notices still go
                # (issue 13); the growing export brings the others back once it is fixed.
                ev = import_events(
                    store, events, now, max_age, source=events_source, skip_invalid=True
                )
                counts.events_new, counts.events_seen = ev.events_new, ev.events_seen
                counts.events_history = ev.events_history
                counts.events_unknown, counts.unknown = ev.events_unknown, ev.unknown
                report.unknown_contact = ev.events_unknown
                report.diagnostics += ev.unknown
                return counts
            report.hold_back(
                f"{exc.events} event(s) name {exc.contacts} contact(s) that are not in the "
                "database; nothing imported from this file",
                exc.events,
                exc.diagnostics,
            )
            return counts
        counts.events_new, counts.events_seen = ev.events_new, ev.events_seen
        counts.events_history = ev.events_history
        counts.events_unknown, counts.unknown = ev.events_unknown, ev.unknown
        if report is not None:
            report.unknown_contact = ev.events_unknown
            report.diagnostics += ev.unknown
        faults.point("import")
    return counts


def import_contacts(store: Store, contacts: Iterable[Contact], now: datetime) -> ImportCounts:
    """Upsert contacts; new ones start with `cursor = now - 1µs` (the engine sees them at now).

    `contacts` may be a stream (`contacts import` of a big file): it is consumed inside the one
    transaction, so an error raised by the stream rolls the whole import back."""
    seen = 0

    def counted() -> Iterator[Contact]:
        nonlocal seen
        for c in contacts:
            seen += 1
            yield c

    with store.transaction():
        new = store.upsert_contacts(counted(), born=now - BORN_BEFORE)
    return ImportCounts(contacts_new=new, contacts_seen=seen)


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
            raise UnknownContacts(
                unknown_contact_diagnostics(unknown, source),
                len(unknown),
                len({e.contact_id for e in unknown}),
            )
        fresh = [e for e in as_imported(events, now, max_age) if e.contact_id in known]
        counts.events_unknown = len(unknown)
        if unknown:
            counts.unknown = unknown_contact_diagnostics(unknown, source, skipped=True)
        counts.events_new = store.add_events(fresh)
        counts.events_history = sum(not e.enrolls for e in fresh)  # upper bound: re-seen too
    return counts


def unknown_contact_diagnostics(
    unknown: Sequence[Event], source: Path | None, limit: int = 20, *, skipped: bool = False
) -> list[Diagnostic]:
    """One located diagnostic per unknown contact id (first rows naming it): errors for the
    UnknownContacts error, warnings for the events `skip_invalid` left out."""
    per_contact = Counter(e.contact_id for e in unknown)
    ids = sorted(per_contact)
    lines = _lines_naming(source, set(ids)) if source is not None else {}
    out = []
    for cid in ids[:limit]:
        line, col = lines.get(cid, (0, 0))
        n = per_contact[cid]
        out.append(
            (warning if skipped else error)(
                Location(source or Path("<events>"), line, col),
                "unknown-contact",
                f"column contact_id: contact {cid!r} is not in the database"
                + (f"; its {n} event(s) were skipped" if skipped else ""),
                "they import once the contact does: pass the same file again"
                if skipped
                else "import the contacts first, or pass --skip-invalid to skip these events",
            )
        )
    return out


def _lines_naming(path: Path, ids: set[str]) -> dict[str, tuple[int, int]]:
    """(line, column) of the first row naming each id; the slow path, only on errors."""
    from journeyctl.data import decode
    from journeyctl.data.source import csv_delimiter, is_jsonl

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
            reader = csv.reader(fh, delimiter=csv_delimiter(fh, enc))  # tabs: Excel UTF-16
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
