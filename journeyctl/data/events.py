"""Read events (SPEC §3) from CSV or JSONL into `Event`s with a stable natural key.

Columns `contact_id`, `event`, `at` are required; every other non-empty column is a property
(text from CSV, JSON scalars from JSONL). Properties are sorted by name so re-importing the
same event gives the same key (SPEC §3: re-import is a no-op).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from journeyctl.data import build, decode
from journeyctl.data.build import EventRow
from journeyctl.data.convert import MEMO_SIZE, TYPES, datetime_parser, memoized, parser_for
from journeyctl.data.result import ReadResult, collect
from journeyctl.data.source import (
    Fatal,
    Header,
    Rejected,
    bad_width,
    csv_records,
    header_columns,
    header_record,
    is_jsonl,
    items_and_problems,
    jsonl_records,
    key_column,
    stream_file,
    unnamed_values,
)
from journeyctl.data.source import shown as escape_name
from journeyctl.diagnostics import Diagnostic, Location, error
from journeyctl.engine.model import EMPTY_PROPS, Event
from journeyctl.spec.models import ProjectSettings

REQUIRED = ("contact_id", "event", "at")
EVENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

Stream = Iterator[Event | Diagnostic | Rejected | Header]


def _missing_id(path: Path, line: int, col: int) -> Diagnostic:
    return error(
        Location(path, line, col),
        "missing-id",
        "column contact_id: the contact id is empty",
        "name the contact the event belongs to",
    )


def _bad_name(path: Path, line: int, col: int, name: str) -> Diagnostic:
    return error(
        Location(path, line, col),
        "bad-event-name",
        f"column event: {name!r} is not an event name"
        if name
        else "column event: the event name is empty",
        "use letters, digits, _ . - (starting with a letter or digit), e.g. purchased",
    )


def _bad_at(path: Path, line: int, col: int, text: str) -> Diagnostic:
    t = TYPES["datetime"]
    if not text:
        return error(Location(path, line, col), t.code, "column at: the time is empty", t.hint)
    return error(Location(path, line, col), t.code, f"column at: {text!r} is not {t.noun}", t.hint)


def _header(path: Path, line: int, fields: list[str], bad: Diagnostic | None) -> list[str]:
    columns = header_columns(path, line, fields, bad)
    for name in REQUIRED:
        if name not in columns:
            raise Fatal(
                error(
                    Location(path, line, 1),
                    "missing-column",
                    f"no {name!r} column; found: " + ", ".join(repr(c) for c in columns if c),
                    "events need the columns contact_id, event and at",
                )
            )
    return columns


Parser = tuple[str, Callable[[str], Any]]  # a declared type and its parser


def property_parsers(settings: ProjectSettings) -> dict[str, dict[str, Parser]]:
    """Per event name, the declared type and parser of each property that is not a string
    (journey.yaml `events.fields`): the readers refuse a row whose value does not parse.
    The value is stored as read (it is part of the event's natural key); the engine types
    it when a template or condition reads it (engine.event_scope)."""
    zone = ZoneInfo(settings.timezone)
    out: dict[str, dict[str, Parser]] = {}
    for event, fields in settings.events.fields.items():
        for prop, kind in fields.items():
            parse = parser_for(kind, zone)
            if parse is not None:
                out.setdefault(event, {})[prop] = (kind, parse)
    return out


def _bad_property(
    path: Path, line: int, col: int, event: str, prop: str, text: str, parser: Parser
) -> Diagnostic | None:
    kind, parse = parser
    try:
        parse(text)
    except (ValueError, OverflowError):
        t = TYPES[kind]
        return error(
            Location(path, line, col),
            t.code,
            f"{escape_name(prop)} of {event}: {text!r} is not {t.noun}",
            f"{t.hint} (declared in journey.yaml under events.fields.{event})",
        )
    return None


@dataclass(frozen=True, slots=True)
class _Columns:
    """What the header says about every row: where the required cells are, the properties."""

    width: int
    cid_i: int
    name_i: int
    at_i: int
    props: list[tuple[str, int]]  # (name, index), sorted by name: the natural key's order
    unnamed: list[int]  # columns without a name, whose cells must be empty


def _csv_stream(path: Path, settings: ProjectSettings, encoding: str) -> Stream:
    return _csv_items(path, settings, encoding, build.event)


def _csv_rows(path: Path, settings: ProjectSettings, encoding: str) -> Iterator[Any]:
    return _csv_items(path, settings, encoding, build.event_row)


def _jsonl_rows(path: Path, settings: ProjectSettings, encoding: str) -> Iterator[Any]:
    for x in _jsonl_stream(path, settings, encoding):
        yield build.event_of(x) if type(x) is Event else x


def _csv_items(
    path: Path, settings: ProjectSettings, encoding: str, make: Callable[..., Any]
) -> Iterator[Any]:
    """The CSV reader's stream, each good row as `make(contact_id, name, at, props)`: an
    Event (build.event), or the tuple of its fields (build.event_row)."""
    parse_at = datetime_parser(ZoneInfo(settings.timezone))
    typed = property_parsers(settings)
    # Cells met before, as written (not stripped): a good event name, kept once for every
    # row naming it, and a time's instant (an events file repeats its minutes). A row whose
    # cells are all known good this way takes the short path below; any other row is checked
    # cell by cell (`_checked`), which also teaches these two what it found good.
    names: dict[str, str] = {}
    instants: dict[str, datetime] = {}
    with decode.open_marked(path, encoding) as f:
        records = csv_records(f, path, encoding)
        first = header_record(records, path, "write a header line: contact_id,event,at")
        columns = _header(path, *first)
        yield Header(columns)
        cid_i, name_i, at_i = (columns.index(c) for c in REQUIRED)
        props = sorted((name, i) for i, name in enumerate(columns) if name and name not in REQUIRED)
        unnamed = [i for i, name in enumerate(columns) if not name]
        cols = _Columns(len(columns), cid_i, name_i, at_i, props, unnamed)
        width = len(columns)
        short = not unnamed  # no unnamed column, whose cells each row must have empty

        for line, row, bad in records:
            if short and bad is None and len(row) == width:
                cid = row[cid_i].strip()
                name = names.get(row[name_i])
                at = instants.get(row[at_i])
                if cid and name is not None and at is not None and name not in typed:
                    found = EMPTY_PROPS
                    for k, i in props:  # a loop, not tuple(genexpr): half the cost per row
                        v = row[i].strip()
                        if v:
                            found = (*found, (k, v))
                    yield make(cid, name, at, found)
                    continue
            yield _checked(path, line, row, bad, cols, typed, names, instants, parse_at, make)


def _checked(
    path: Path,
    line: int,
    row: list[str],
    bad: Diagnostic | None,
    cols: _Columns,
    typed: dict[str, dict[str, Parser]],
    names: dict[str, str],
    instants: dict[str, datetime],
    parse_at: Callable[[str], datetime],
    make: Callable[..., Any],
) -> Any:
    """One row checked cell by cell: `make` of its fields, or the row (Rejected) with every
    problem found in it."""
    problems: list[Diagnostic] = [] if bad is None else [bad]
    wrong = bad_width(path, line, row, cols.width)
    if wrong is not None:
        return Rejected(line, row, [*problems, wrong])
    cid = row[cols.cid_i].strip()
    if not cid:
        problems.append(_missing_id(path, line, cols.cid_i + 1))
    name_cell = row[cols.name_i]
    name = names.get(name_cell) or name_cell.strip()
    if name_cell not in names:
        if not EVENT_NAME.fullmatch(name):
            problems.append(_bad_name(path, line, cols.name_i + 1, name))
        elif len(names) < MEMO_SIZE:
            names[name_cell] = name
    cell = row[cols.at_i]
    text = cell.strip()
    at = instants.get(cell)
    if at is None:
        try:
            at = parse_at(text)
        except (ValueError, OverflowError):
            problems.append(_bad_at(path, line, cols.at_i + 1, text))
        else:
            if len(instants) < MEMO_SIZE:
                instants[cell] = at
    if cols.unnamed:
        problems += unnamed_values(path, line, row, cols.unnamed)
    declared = typed.get(name) if typed else None
    if declared:
        for k, i in cols.props:
            parser = declared.get(k)
            v = row[i].strip()
            if parser is not None and v:
                wrong = _bad_property(path, line, i + 1, name, k, v, parser)
                if wrong is not None:
                    problems.append(wrong)
    if problems or at is None:
        return Rejected(line, row, problems)
    found = EMPTY_PROPS
    for k, i in cols.props:
        v = row[i].strip()
        if v:
            found = (*found, (k, v))
    return make(cid, name, at, found)


def _jsonl_stream(path: Path, settings: ProjectSettings, encoding: str) -> Stream:
    parse_at = memoized(datetime_parser(ZoneInfo(settings.timezone)))
    typed = property_parsers(settings)
    with decode.open_marked(path, encoding) as f:
        for line, text, obj in jsonl_records(f, path, encoding):
            if isinstance(obj, Diagnostic):
                yield Rejected(line, text, [obj])
                continue
            problems: list[Diagnostic] = []
            cid = obj.get("contact_id")
            if isinstance(cid, int) and not isinstance(cid, bool):
                cid = str(cid)
            if isinstance(cid, str):
                cid = cid.strip()
            if not cid or not isinstance(cid, str):
                problems.append(_missing_id(path, line, key_column(text, "contact_id")))
            name = obj.get("event")
            if not isinstance(name, str) or not EVENT_NAME.fullmatch(name.strip()):
                shown = (
                    name.strip() if isinstance(name, str) else ("" if name is None else repr(name))
                )
                problems.append(_bad_name(path, line, key_column(text, "event"), shown))
            raw_at = obj.get("at")
            at = None
            try:
                at = parse_at(raw_at.strip() if isinstance(raw_at, str) else "")
            except (ValueError, OverflowError):
                shown = (
                    raw_at.strip()
                    if isinstance(raw_at, str)
                    else ("" if raw_at is None else repr(raw_at))
                )
                problems.append(_bad_at(path, line, key_column(text, "at"), shown))
            found: list[tuple[str, Any]] = []
            declared = typed.get(name.strip(), {}) if isinstance(name, str) and typed else {}
            for key, value in obj.items():
                if key in REQUIRED or value is None:
                    continue
                parser = declared.get(key)
                if parser is not None and parser[0] == "list" and isinstance(value, list):
                    # A declared list property: kept as its JSON text, like a CSV cell holds it
                    # (an event's properties are scalars: they make its natural key).
                    value = json.dumps(value, ensure_ascii=False)
                elif parser is not None and isinstance(value, str) and value.strip():
                    bad = _bad_property(
                        path, line, key_column(text, key), str(name).strip(), key, value, parser
                    )
                    if bad is not None:
                        problems.append(bad)
                        continue
                if isinstance(value, dict | list):
                    problems.append(
                        error(
                            Location(path, line, key_column(text, key)),
                            "bad-json",
                            f"{escape_name(key)}: expected a single value, got a JSON {type(value).__name__}",
                            "event properties are strings, numbers or booleans",
                        )
                    )
                    continue
                if isinstance(value, str):
                    value = value.strip()
                    if not value:
                        continue
                found.append((key, value))
            if problems or at is None:
                yield Rejected(line, text, problems)
                continue
            yield Event(str(cid), str(name).strip(), at, tuple(sorted(found)))


def _stream(path: Path, settings: ProjectSettings, encoding: str | None) -> Stream:
    return stream_file(path, settings, encoding, csv_stream=_csv_stream, jsonl_stream=_jsonl_stream)


def read_event_rows(
    path: Path,
    settings: ProjectSettings,
    *,
    each: Callable[[EventRow], object],
    encoding: str | None = None,
    skip_invalid: bool = False,
    rejects: Path | None = None,
) -> ReadResult[EventRow]:
    """read_events giving `each` every good event as the tuple of its fields
    (build.event_row), no Event built: simulate's partition keeps only those. Same checks,
    errors and rejects file."""
    stream = stream_file(path, settings, encoding, csv_stream=_csv_rows, jsonl_stream=_jsonl_rows)
    return collect(
        stream,
        path,
        tuple,
        skip_invalid=skip_invalid,
        rejects=rejects,
        jsonl=is_jsonl(path),
        each=each,
    )


def iter_events(
    path: Path, settings: ProjectSettings, *, encoding: str | None = None
) -> Iterator[Event | Diagnostic]:
    """Stream events: good rows as Events, problems as Diagnostics (see iter_contacts)."""
    return items_and_problems(_stream(path, settings, encoding))


def read_events(
    path: Path,
    settings: ProjectSettings,
    *,
    encoding: str | None = None,
    skip_invalid: bool = False,
    rejects: Path | None = None,
    each: Callable[[Event], object] | None = None,
) -> ReadResult[Event]:
    """Read all events of a CSV (or .jsonl/.ndjson) file; all-or-nothing like read_contacts
    (`each` as there)."""
    return collect(
        _stream(path, settings, encoding),
        path,
        Event,
        skip_invalid=skip_invalid,
        rejects=rejects,
        jsonl=is_jsonl(path),
        each=each,
    )
