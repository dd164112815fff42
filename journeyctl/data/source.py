"""Records of a CSV or JSONL data file with their physical line numbers.

Line numbers are physical lines as an editor shows them (header = 1); a record whose quoted
field spans lines is located at the line where it starts.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from journeyctl.data import decode
from journeyctl.diagnostics import Diagnostic, Location, error

JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})


def is_jsonl(path: Path) -> bool:
    return path.suffix.lower() in JSONL_SUFFIXES


class Fatal(Exception):
    """The file cannot be read on (bad header, broken quoting): stops the reader."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(str(diagnostic))
        self.diagnostic = diagnostic


@dataclass(frozen=True, slots=True)
class Header:
    """First thing a CSV reader yields, so a rejects file can repeat the columns."""

    columns: list[str]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row that did not import: its line, original text, and every problem found in it."""

    line: int
    raw: list[str] | str  # CSV fields, or the JSONL line
    diagnostics: list[Diagnostic]


def bad_encoding(path: Path, line: int, col: int, byte: int, encoding: str) -> Diagnostic:
    return error(
        Location(path, line, col),
        "bad-encoding",
        f"byte 0x{byte:02X} is not valid {encoding}",
        decode.encoding_hint(encoding),
    )


def csv_records(
    f: TextIO, path: Path, encoding: str
) -> Iterator[tuple[int, list[str], Diagnostic | None]]:
    """(start line, fields, bad-encoding diagnostic or None) per non-blank record."""
    # strict: an unclosed quote is an error, not a field that swallows the rest of the file
    reader = csv.reader(f, strict=True)
    seen = decode.bad_bytes_seen()
    scanning = False
    prev = 0  # line_num after the previous record = lines consumed so far
    try:
        for row in reader:
            line = prev + 1
            prev = reader.line_num
            if not row:
                continue
            bad = None
            if scanning or decode.bad_bytes_seen() != seen:
                scanning = True
                found = decode.find_bad_bytes(row)
                if found:
                    bad = bad_encoding(path, line, found[0], found[2], encoding)
            yield line, row, bad
    except csv.Error as exc:
        raise Fatal(
            error(
                Location(path, prev + 1, 1),
                "bad-row",
                f"malformed CSV in the record starting here: {exc}",
                'check the quotes: a quoted field must end with " and a literal quote is ""',
            )
        ) from None


def jsonl_records(
    f: TextIO, path: Path, encoding: str
) -> Iterator[tuple[int, str, dict[str, Any] | Diagnostic]]:
    """(line, text, object or the diagnostic saying why it is not one) per non-blank line."""
    seen = decode.bad_bytes_seen()
    for line, text in enumerate(f, 1):
        if not text.strip():
            continue
        if decode.bad_bytes_seen() != seen:
            found = decode.find_bad_bytes([text])
            if found:
                yield line, text, bad_encoding(path, line, found[1] + 1, found[2], encoding)
                continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield (
                line,
                text,
                error(
                    Location(path, line, exc.colno),
                    "bad-json",
                    f"not valid JSON: {exc.msg}",
                    "each line must be one JSON object",
                ),
            )
            continue
        if not isinstance(obj, dict):
            yield (
                line,
                text,
                error(
                    Location(path, line, 1),
                    "bad-json",
                    f"expected a JSON object, got {type(obj).__name__}",
                    "each line must be one JSON object",
                ),
            )
            continue
        yield line, text, obj


def key_column(text: str, key: str) -> int:
    """1-based column of a key in a JSONL line, for locating a bad value (1 if not found)."""
    return text.find(json.dumps(key, ensure_ascii=False)) + 1 or 1


def header_record(records: Iterator[Any], path: Path, hint: str) -> Any:
    """The first record of a CSV (its header); an empty file is fatal, with what to write."""
    first = next(records, None)
    if first is None:
        raise Fatal(error(Location(path, 1, 1), "missing-column", "the file is empty", hint))
    return first


def stream_file(
    path: Path,
    settings: Any,
    encoding: str | None,
    *,
    csv_stream: Callable[[Path, Any, str], Iterator[Any]],
    jsonl_stream: Callable[[Path, Any, str], Iterator[Any]],
) -> Iterator[Any]:
    """A reader's stream over a CSV or JSONL file (by suffix): its items, and a problem that
    stops the reading (Fatal) as the last item."""
    enc = decode.resolve_encoding(path, encoding)
    try:
        yield from (jsonl_stream if is_jsonl(path) else csv_stream)(path, settings, enc)
    except Fatal as exc:
        yield exc.diagnostic


def items_and_problems(stream: Iterable[Any]) -> Iterator[Any]:
    """Good rows as themselves, a rejected row as its diagnostics; the header is dropped."""
    for x in stream:
        if type(x) is Rejected:
            yield from x.diagnostics
        elif type(x) is not Header:
            yield x


def header_columns(path: Path, line: int, fields: list[str], bad: Diagnostic | None) -> list[str]:
    """A CSV header's column names, stripped (and of a BOM read as text), or Fatal when the
    header could not be read or names a column twice."""
    if bad is not None:
        raise Fatal(bad)
    columns = [c.strip() for c in fields]
    columns[0] = columns[0].lstrip("\ufeff").strip()  # a BOM read with --encoding utf-8
    for i, name in enumerate(columns):
        if name and name in columns[:i]:
            raise Fatal(
                error(
                    Location(path, line, i + 1),
                    "duplicate-column",
                    f"column {name!r} appears twice (also column {columns.index(name) + 1})",
                    "rename or remove one of them",
                )
            )
    return columns


def bad_width(path: Path, line: int, row: list[str], width: int) -> Diagnostic | None:
    """A CSV row with more or fewer fields than the header (empty trailing fields are fine)."""
    if len(row) == width or (len(row) > width and not any(c.strip() for c in row[width:])):
        return None
    return error(
        Location(path, line, min(len(row), width) + 1),
        "bad-row",
        f"the row has {len(row)} fields but the header has {width}",
        "check for a missing or extra comma, or an unquoted comma inside a value",
    )
