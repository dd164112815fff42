"""Read contacts (SPEC §3) from CSV or JSONL into typed `Contact`s, every bad cell located.

Columns: `id` (required, unique), `email`, `phone`, `name`, `timezone`; every other column is
an attribute typed by `contacts.fields` in journey.yaml (undeclared ones stay strings).
Accepted cell forms are documented in docs/data.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from journeyctl.data import build, decode
from journeyctl.data.build import ContactRow
from journeyctl.data.contact_fields import (
    KNOWN,
    Zones,
    bad_cell,
    bad_email,
    bad_phone,
    bad_timezone,
    field_types,
    is_email,
    normal_phone,
)
from journeyctl.data.contacts_jsonl import jsonl_stream
from journeyctl.data.convert import MEMO_SIZE, parser_for
from journeyctl.data.result import ReadResult, again, collect
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
    stream_file,
    unnamed_values,
)
from journeyctl.diagnostics import Diagnostic, Location, error, warning
from journeyctl.engine.model import Contact
from journeyctl.spec.models import ProjectSettings

Stream = Iterator[Contact | Diagnostic | Rejected | Header]
_UNKNOWN: Final = object()  # a cell not met before in its column


def _header(path: Path, line: int, fields: list[str], bad: Diagnostic | None) -> list[str]:
    columns = header_columns(path, line, fields, bad)
    if "id" not in columns:
        similar = [c for c in columns if c.lower() == "id"]
        raise Fatal(
            error(
                Location(path, line, 1),
                "missing-column",
                "no 'id' column; found: " + ", ".join(repr(c) for c in columns if c),
                f"rename {similar[0]!r} to 'id'"
                if similar
                else "add an 'id' column with one unique id per contact",
            )
        )
    return columns


def _csv_stream(path: Path, settings: ProjectSettings, encoding: str) -> Stream:
    return _csv_items(path, settings, encoding, build.contact)


def _csv_rows(path: Path, settings: ProjectSettings, encoding: str) -> Iterator[Any]:
    return _csv_items(path, settings, encoding, build.contact_row)


def _jsonl_rows(path: Path, settings: ProjectSettings, encoding: str) -> Iterator[Any]:
    for x in jsonl_stream(path, settings, encoding):
        yield build.contact_of(x) if type(x) is Contact else x


def _csv_items(
    path: Path, settings: ProjectSettings, encoding: str, make: Callable[..., Any]
) -> Iterator[Any]:
    """The CSV reader's stream, each good row as `make(id, email, phone, name, timezone,
    attrs)`: a Contact (build.contact), or the tuple of its fields (build.contact_row)."""
    zone = ZoneInfo(settings.timezone)
    types = field_types(settings)
    zones = Zones()
    with decode.open_marked(path, encoding) as f:
        records = csv_records(f, path, encoding)
        first = header_record(records, path, "write a header line with an 'id' column")
        columns = _header(path, *first)
        yield Header(columns)
        width = len(columns)
        at = {name: i for i, name in enumerate(columns) if name}
        id_i = at["id"]
        email_i, phone_i, name_i, tz_i = (at.get(k) for k in KNOWN[1:])
        strings: list[tuple[int, str]] = []
        # A typed column's values by cell as written (not stripped): a column repeats its
        # values (dates, minutes, flags, small counts), and a lookup costs a fraction of a
        # strip and a parse. Every contact column type parses to an immutable value.
        typed: list[tuple[int, str, str, Callable[[str], Any], dict[str, Any]]] = []
        for i, name in enumerate(columns):
            if not name or name in KNOWN:
                continue
            kind = types.get(name, "string")
            parse = parser_for(kind, zone)
            if parse is None:
                strings.append((i, name))
            else:
                typed.append((i, name, kind, parse, {}))
        unnamed = [i for i, name in enumerate(columns) if not name]
        # Declared but absent columns read as empty, as the template/expression contract expects.
        absent = {
            name: None for name in settings.contacts.fields if name not in at and name not in KNOWN
        }
        for name in absent:
            yield warning(
                Location(path, 1, 1),
                "missing-column",
                f"column {name!r} is declared in journey.yaml but not in the file;"
                " it is empty for everyone",
            )
        first_line: dict[str, int] = {}

        for line, row, bad in records:
            problems: list[Diagnostic] = []
            if bad is not None:
                problems.append(bad)
            if len(row) != width:
                wrong = bad_width(path, line, row, width)
                if wrong is not None:
                    yield Rejected(line, row, [*problems, wrong])
                    continue
            cid = row[id_i].strip()
            if not cid:
                problems.append(
                    error(
                        Location(path, line, id_i + 1),
                        "missing-id",
                        "column id: the id is empty",
                        "give every contact a unique id",
                    )
                )
            else:
                seen_on = first_line.setdefault(cid, line)
                if seen_on != line:
                    problems.append(
                        error(
                            Location(path, line, id_i + 1),
                            "duplicate-id",
                            f"column id: {cid!r} is already used on line {seen_on}",
                            "ids must be unique; merge the two rows or give one a new id",
                        )
                    )
            email = (row[email_i].strip() or None) if email_i is not None else None
            if email is not None and not is_email(email):
                problems.append(bad_email(path, line, email_i + 1, email))  # type: ignore[operator]
            phone = None
            if phone_i is not None:
                text = row[phone_i].strip()
                if text:
                    phone = normal_phone(text)
                    if phone is None:
                        problems.append(bad_phone(path, line, phone_i + 1, text))
            full_name = (row[name_i].strip() or None) if name_i is not None else None
            attrs: dict[str, Any] = {}
            for i, n in strings:
                attrs[n] = row[i].strip() or None
            for i, n, kind, parse, known in typed:
                cell = row[i]
                value = known.get(cell, _UNKNOWN)
                if value is _UNKNOWN:
                    text = cell.strip()
                    if not text:
                        value = None
                    else:
                        try:
                            value = parse(text)
                        except (ValueError, OverflowError) as exc:
                            problems.append(bad_cell(path, line, i + 1, n, kind, text, exc))
                            continue
                    if len(known) < MEMO_SIZE:
                        known[cell] = value
                attrs[n] = value
            if unnamed:
                problems += unnamed_values(path, line, row, unnamed)
            if absent:
                attrs.update(absent)
            if problems:
                yield Rejected(line, row, problems)
                continue
            tz = (row[tz_i].strip() or None) if tz_i is not None else None
            if tz is not None and not (zones.valid.get(tz) or zones(tz)):
                yield bad_timezone(path, line, tz_i + 1, tz, settings.timezone)  # type: ignore[operator]
                tz = None
            yield make(cid, email, phone, full_name, tz, attrs)


def _stream(path: Path, settings: ProjectSettings, encoding: str | None) -> Stream:
    return stream_file(path, settings, encoding, csv_stream=_csv_stream, jsonl_stream=jsonl_stream)


def read_contact_rows(
    path: Path,
    settings: ProjectSettings,
    *,
    each: Callable[[ContactRow], object],
    encoding: str | None = None,
    skip_invalid: bool = False,
    rejects: Path | None = None,
) -> ReadResult[ContactRow]:
    """read_contacts giving `each` every good contact as the tuple of its fields
    (build.contact_row), no Contact built: simulate's partition keeps only those. Same
    checks, errors, warnings and rejects file."""
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


def iter_contacts(
    path: Path, settings: ProjectSettings, *, encoding: str | None = None
) -> Iterator[Contact | Diagnostic]:
    """Stream contacts for big files: each good row as a Contact, each problem as a Diagnostic.

    A row with errors yields only its diagnostics. An error that stops the reading (bad
    header, broken quoting) is the last thing yielded. The caller decides all-or-nothing.
    """
    return items_and_problems(_stream(path, settings, encoding))


def read_contacts(
    path: Path,
    settings: ProjectSettings,
    *,
    encoding: str | None = None,
    skip_invalid: bool = False,
    rejects: Path | None = None,
    keep: bool = True,
    each: Callable[[Contact], object] | None = None,
) -> ReadResult[Contact]:
    """Read all contacts of a CSV (or .jsonl/.ndjson) file.

    All-or-nothing: any bad row raises `DataError` with every diagnostic (located
    `file:line:col`). With `skip_invalid`, good rows are returned, bad ones counted in
    `rejected` and written to `rejects` (original columns + `error`). Warnings (e.g.
    `bad-timezone`) never fail the read; they are in `diagnostics`. `keep=False` checks the
    file the same way without keeping the contacts (`rows` counts them; see `read_again`).
    `each`: called with every good contact as it is read, none kept (data.result.collect).
    """
    return collect(
        _stream(path, settings, encoding),
        path,
        Contact,
        skip_invalid=skip_invalid,
        rejects=rejects,
        jsonl=is_jsonl(path),
        keep=keep,
        each=each,
    )


def read_again(
    path: Path,
    settings: ProjectSettings,
    first: ReadResult[Contact],
    *,
    encoding: str | None = None,
) -> Iterator[Contact]:
    """The good contacts of a file `read_contacts(keep=False)` checked, streamed one by one
    (`contacts import` of a big file); raises ChangedWhileReading if the file changed."""
    return again(_stream(path, settings, encoding), path, Contact, first)
