"""Records of a CSV or JSONL data file with their physical line numbers.

Line numbers are physical lines as an editor shows them (header = 1); a record whose quoted
field spans lines is located at the line where it starts.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from journeyctl.data import decode
from journeyctl.diagnostics import Diagnostic, Location, error
from journeyctl.reporting import csvsafe

JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})


# Terminal controls (C0 but tab, DEL, C1) as \x.. escapes: a column name or JSON key put in a
# diagnostic's message is data, and messages are printed on terminals.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0)) if c != 0x09}


def shown(name: str) -> str:
    """A name from the file (column, JSON key) for a message: controls escaped."""
    return name.translate(_CONTROLS)


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


def unnamed_values(path: Path, line: int, row: list[str], unnamed: list[int]) -> list[Diagnostic]:
    """A value in a column the header does not name: one error per such cell."""
    return [
        error(
            Location(path, line, i + 1),
            "bad-row",
            f"column {i + 1} has a value but no name in the header",
            "name the column in the header line",
        )
        for i in unnamed
        if row[i].strip()
    ]


def bad_nul(path: Path, line: int, col: int) -> Diagnostic:
    return error(
        Location(path, line, col),
        "bad-encoding",
        "a NUL byte (0x00): this is not text in the file's encoding",
        'is the file binary, or UTF-16 without its BOM? save it from Excel as "CSV UTF-8"',
    )


def unquote_formulas(row: list[str]) -> None:
    """Undo, in place, what journeyctl's CSV writers do to a cell that Excel would run as a
    formula (reporting/csvsafe.py: `'` before a leading = + - @ TAB CR), so a rejects file
    fixed in Excel imports back as it was (`'+82 10-1234-5678` is the phone +82 10-1234-5678)."""
    for i, cell in enumerate(row):
        if cell[:1] == "'" and cell[1:2] in csvsafe.TRIGGERS_SET:
            row[i] = cell[1:]


def csv_delimiter(f: TextIO, encoding: str) -> str:
    """',' except for Excel's "Unicode text" (UTF-16, tab-separated): a UTF-16 file whose
    first line has a tab is read as tab-separated."""
    if not decode.is_utf16(encoding):
        return ","
    first = f.readline()
    f.seek(0)
    return "\t" if "\t" in first else ","


def csv_records(
    f: TextIO, path: Path, encoding: str
) -> Iterator[tuple[int, list[str], Diagnostic | None]]:
    """(start line, fields, bad-encoding diagnostic or None) per non-blank record.

    A line without a double quote is a whole record, its fields the line split at the
    delimiter: what the csv module makes of it, at a fraction of the cost (the line ends at
    its line break, and a field no longer than the line is within the field limit). A line
    with a quote, or longer than the field limit, starts a record the csv module reads (strict:
    an unclosed quote is an error, not a field that swallows the rest of the file), over as
    many lines as its quoted fields span. tests/data/test_csv_records.py holds the two equal.
    """
    delimiter = csv_delimiter(f, encoding)
    limit = csv.field_size_limit()
    lines = iter(f)
    seen = decode.bad_bytes_seen()
    scanning = False
    line = 0  # lines read so far
    for text in lines:
        line += 1
        start = line
        if '"' not in text and len(text) <= limit:
            fields = text.rstrip("\r\n")
            if not fields:
                continue
            row = fields.split(delimiter)
            quoted = False
        else:
            row, line = _csv_record(text, lines, path, start, delimiter)
            if not row:
                continue
            quoted = True
        bad = None
        if scanning or decode.bad_bytes_seen() != seen:
            scanning = True
            found = decode.find_bad_bytes(row)
            if found:
                bad = bad_encoding(path, start, found[0], found[2], encoding)
        if quoted or "'" in text:
            unquote_formulas(row)
        if quoted or "\x00" in text:
            col = next((i for i, c in enumerate(row, 1) if "\x00" in c), 0)
            if col and bad is None:
                bad = bad_nul(path, start, col)
        yield start, row, bad


def _csv_record(
    first: str, rest: Iterator[str], path: Path, start: int, delimiter: str
) -> tuple[list[str], int]:
    """The record starting with line `first` (line number `start`), read by the csv module
    from `rest` as far as it spans; and the number of the last line it took."""
    last = [first]  # the line read last: where a field over the limit is looked for
    reader = csv.reader(_tracked(first, rest, last), strict=True, delimiter=delimiter)
    try:
        row = next(reader, [])
    except csv.Error as exc:
        message = f"malformed CSV in the record starting here: {exc}"
        hint = 'check the quotes: a quoted field must end with " and a literal quote is ""'
        col = 1
        if "field larger than field limit" in str(exc):  # 128 KiB: an unclosed quote, mostly
            hint = (
                "a field longer than that is an unclosed quote swallowing the lines after it,"
                " or a value too long for a contact: shorten it"
            )
            if reader.line_num == 1:  # a record of one line: point at the long field
                col = _long_field(last[0], delimiter) or 1
        raise Fatal(error(Location(path, start, col), "bad-row", message, hint)) from None
    return row, start + max(reader.line_num, 1) - 1


def _tracked(first: str, rest: Iterator[str], last: list[str]) -> Iterator[str]:
    """`first`, then the lines of `rest` as the csv module asks for them, noting the last."""
    yield first
    for text in rest:
        last[0] = text
        yield text


def _long_field(text: str, delimiter: str) -> int:
    """The 1-based number of the first field of one CSV line longer than the csv module's
    field limit (0 if none, or if the line does not parse)."""
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))
    try:
        row = next(csv.reader([text], delimiter=delimiter), [])
    except csv.Error:
        return 0
    finally:
        csv.field_size_limit(limit)
    return next((i for i, cell in enumerate(row, 1) if len(cell) > limit), 0)


class _NotJsonNumber(ValueError):
    def __init__(self, literal: str, why: str):
        super().__init__(why)
        self.literal = literal


class _TooDeep(ValueError):
    pass


def _json_constant(name: str) -> Any:
    raise _NotJsonNumber(name, f"{name} is not a JSON number")


def _json_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJsonNumber(text, f"{text} is too large for a number")
    return value


# Python's json reads NaN and Infinity (not JSON) and turns 1e400 into inf: refused, located.
_DECODER = json.JSONDecoder(parse_constant=_json_constant, parse_float=_json_float)


def parse_json_line(text: str) -> Any:
    """One JSONL line as Python values; ValueError (never RecursionError) when it is not JSON
    or holds a number journeyctl cannot keep (NaN, Infinity, 1e400, over 4300 digits)."""
    try:
        return _DECODER.decode(text)
    except RecursionError:
        raise _TooDeep("nested too deeply") from None


def _bad_json(path: Path, line: int, text: str, exc: ValueError) -> Diagnostic:
    hint = "each line must be one JSON object"
    if isinstance(exc, json.JSONDecodeError):
        return error(
            Location(path, line, exc.colno), "bad-json", f"not valid JSON: {exc.msg}", hint
        )
    if isinstance(exc, _NotJsonNumber):
        col = text.find(exc.literal) + 1 or 1
        return error(
            Location(path, line, col),
            "bad-json",
            f"not a number journeyctl can keep: {exc}",
            "write a finite number, or null for no value",
        )
    if isinstance(exc, _TooDeep):
        return error(
            Location(path, line, 1),
            "bad-json",
            "a value is nested too deeply to read",
            "each line must be one JSON object of single values (no arrays or objects in it)",
        )
    return error(Location(path, line, 1), "bad-json", f"not valid JSON: {exc}", hint)


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _strings(obj: Any) -> Iterator[str]:
    """Every key and string value of a parsed JSON value, without recursion (json.loads takes
    nesting deeper than Python's stack, and a located error must still come out)."""
    stack = [obj]
    while stack:
        here = stack.pop()
        if isinstance(here, str):
            yield here
        elif isinstance(here, dict):
            stack.extend(here.keys())
            stack.extend(here.values())
        elif isinstance(here, list):
            stack.extend(here)


def _holds_surrogate(obj: Any) -> bool:
    # code points, not "\ud800" literals: mypyc cannot compile surrogates in a string literal
    return any(any(0xD800 <= ord(ch) <= 0xDFFF for ch in s) for s in _strings(obj))


def bad_surrogate(path: Path, line: int, col: int) -> Diagnostic:
    return error(
        Location(path, line, col),
        "bad-encoding",
        "a lone UTF-16 surrogate escape (like \\udc80): not a character",
        "write the character itself, or its full surrogate pair (\\ud83d\\ude00)",
    )


def _holds_nul(obj: Any) -> bool:
    return any("\x00" in s for s in _strings(obj))


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
            obj = parse_json_line(text)
        except ValueError as exc:
            yield line, text, _bad_json(path, line, text, exc)
            continue
        if "\\u0000" in text and _holds_nul(obj):  # a NUL written as an escape: as in CSV
            yield line, text, bad_nul(path, line, text.index("\\u0000") + 1)
            continue
        if "\\u" in text and _holds_surrogate(obj):
            # `"\udc80"`: an escaped half of a UTF-16 pair, which is no character at all
            at = _SURROGATE_ESCAPE.search(text)
            yield line, text, bad_surrogate(path, line, at.start() + 1 if at else 1)
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


# A JSON key as written: a string literal followed by a colon.
_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:')


@functools.lru_cache(maxsize=1)
def _key_offsets(text: str) -> dict[str, int]:
    offsets: dict[str, int] = {}
    for m in _KEY.finditer(text):
        offsets.setdefault(m.group(1), m.start())
    return offsets


def key_column(text: str, key: str) -> int:
    """1-based column of a key in a JSONL line, for locating a bad value (1 if not found).

    One scan of the line per line, however many keys are looked up: a line of 100k bad keys
    must not search the line 100k times."""
    if len(text) < 4096:
        return text.find(json.dumps(key, ensure_ascii=False)) + 1 or 1
    at = _key_offsets(text).get(json.dumps(key, ensure_ascii=False)[1:-1])
    return 1 if at is None else at + 1


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
    first: dict[str, int] = {}  # not `name in columns[:i]`: quadratic in a 100k-column header
    for i, name in enumerate(columns):
        if name and first.setdefault(name, i) != i:
            raise Fatal(
                error(
                    Location(path, line, i + 1),
                    "duplicate-column",
                    f"column {name!r} appears twice (also column {first[name] + 1})",
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
