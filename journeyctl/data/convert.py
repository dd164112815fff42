"""Cell text -> typed value for the column types of `contacts.fields` (SPEC §2).

Each parser takes stripped, non-empty text and raises ValueError when it does not fit; the
readers turn that into a located diagnostic using `TYPES`. Accepted forms are documented in
docs/data.md.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any, TypeVar

# Korean Excel writes 2026.01.05 or 2026/1/5; the separator must be the same twice.
_DATE = re.compile(r"([0-9]{4})([-./])([0-9]{1,2})\2([0-9]{1,2})\.?", re.ASCII)
# Excel-style local date-times: 2026/01/05 9:30, 2026.1.5 09:30:15 (naive).
_EXCEL_DATETIME = re.compile(
    r"([0-9]{4})([-./])([0-9]{1,2})\2([0-9]{1,2})\.?[ T]+([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?",
    re.ASCII,
)
_GROUPED_INT = re.compile(r"[+-]?[0-9]{1,3}(,[0-9]{3})+", re.ASCII)
_GROUPED_FLOAT = re.compile(r"[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?", re.ASCII)

BOOLS: dict[str, bool] = {
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
    "y": True,
    "n": False,
    "1": True,
    "0": False,
    "예": True,
    "아니오": False,
    "네": True,
    "아니요": False,  # the standard spelling of 아니오
}


class NotAscii(ValueError):
    """A number written with other digits than 0-9 (full-width １２３, Arabic-Indic ١٢٣)."""


def _not_ascii(text: str) -> ValueError:
    if any(c.isdigit() for c in text if not c.isascii()):
        return NotAscii(text)
    return ValueError(text)


def parse_int(text: str) -> int:
    """Whole numbers; Excel's thousands separators are accepted when well grouped.

    >>> parse_int("1,234")
    1234

    Digits are ASCII only: int() would take full-width １２３ (Korean Excel's full-width input
    mode) or Arabic-Indic digits, which dates, times and every text column keep as written, so
    the same cell would mean a number here and a string there; `NotAscii` says so, located.
    """
    if "_" in text:  # int() would take 1_000; a spreadsheet never means that
        raise ValueError(text)
    if not text.isascii():
        raise _not_ascii(text)
    try:
        return int(text)
    except ValueError:
        if _GROUPED_INT.fullmatch(text):
            return int(text.replace(",", ""))
        raise


def parse_float(text: str) -> float:
    """Finite decimal numbers, thousands separators as for int; no nan/inf; ASCII digits."""
    if "_" in text:
        raise ValueError(text)
    if not text.isascii():
        raise _not_ascii(text)
    try:
        value = float(text)
    except ValueError:
        if not _GROUPED_FLOAT.fullmatch(text):
            raise
        value = float(text.replace(",", ""))
    if not math.isfinite(value):
        raise ValueError(text)  # nan, inf, 1e400
    return value


def parse_bool(text: str) -> bool:
    """true/false yes/no y/n 1/0 예/아니오 (네/아니요), any case."""
    try:
        return BOOLS[text.lower()]
    except KeyError:
        raise ValueError(text) from None


# The calendar journeyctl schedules in: Python's ends at years 1 and 9999, and a date there
# has no next anniversary or local time (0001-01-01 and 9999-12-31 are often placeholders).
FIRST_YEAR = 2
LAST_YEAR = 9998


class OutOfCalendar(ValueError):
    """A well-formed date or time in year 1 or 9999 (bad_cell says so, located)."""


def parse_date(text: str) -> date:
    """YYYY-MM-DD, also YYYY.MM.DD and YYYY/MM/DD (one-digit month/day allowed)."""
    if len(text) == 10 and text[4] == "-" and text[5] != "W":  # fromisoformat takes 2026-W01-1
        value = date.fromisoformat(text)
    else:
        m = _DATE.fullmatch(text)
        if not m:
            raise ValueError(text)
        value = date(int(m[1]), int(m[3]), int(m[4]))
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise OutOfCalendar(text)
    return value


def datetime_parser(zone: tzinfo) -> Callable[[str], datetime]:
    """ISO 8601 -> aware UTC; a naive value is wall-clock time in `zone` (the project's)."""

    def parse_datetime(text: str) -> datetime:
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            m = _EXCEL_DATETIME.fullmatch(text)
            if not m:
                raise
            value = datetime(
                int(m[1]), int(m[3]), int(m[4]), int(m[5]), int(m[6]), int(m[7] or 0), tzinfo=zone
            )
        # Subtract the offset and attach UTC by hand: replace()/astimezone() would cost more
        # than the parse. A naive value's offset is the zone's for that wall time.
        offset = value.utcoffset()
        if offset is None:
            offset = zone.utcoffset(value)
            if offset is None:  # a tzinfo that doesn't know (never for ZoneInfo)
                raise ValueError(text)
        if not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise OutOfCalendar(text)
        value -= offset
        return datetime.combine(value, value.time(), UTC)

    return parse_datetime


T = TypeVar("T")
MEMO_SIZE = 1 << 16  # distinct texts remembered per column


def memoized(parse: Callable[[str], T]) -> Callable[[str], T]:
    """`parse` remembering its results by text, up to MEMO_SIZE texts: a column of dates or
    times repeats its values (signup days, event minutes), and a dict lookup costs a fraction
    of a parse. For parsers of immutable values only; a text that fails is never kept."""
    seen: dict[str, T] = {}
    get = seen.get

    def parse_memoized(text: str) -> T:
        value = get(text)
        if value is None:
            value = parse(text)
            if len(seen) < MEMO_SIZE:
                seen[text] = value
        return value

    return parse_memoized


@dataclass(frozen=True, slots=True)
class ColumnType:
    code: str  # diagnostic code when a cell does not parse
    noun: str  # "... is not {noun}"
    hint: str


TYPES: dict[str, ColumnType] = {
    "int": ColumnType("bad-int", "an int", "write a whole number like 1234 or 1,234"),
    "float": ColumnType("bad-float", "a float", "write a number like 12.5 or 1,234.5"),
    "bool": ColumnType(
        "bad-bool", "a bool", "write true/false, yes/no, y/n, 1/0 or 예/아니오 (any case)"
    ),
    "date": ColumnType("bad-date", "a date", "write YYYY-MM-DD (or YYYY.MM.DD, YYYY/MM/DD)"),
    "list": ColumnType(
        "bad-list",
        "a list",
        'write the items separated by | (셔츠|양말) or as a JSON array (["셔츠", "양말"])',
    ),
    "datetime": ColumnType(
        "bad-datetime",
        "a datetime",
        "write ISO 8601 like 2026-01-05T09:30:00+09:00; without an offset it is in the"
        " project timezone",
    ),
}


def parser_for(kind: str, zone: tzinfo) -> Callable[[str], Any] | None:
    """The parser for a declared column type; None for strings (kept as stripped text)."""
    if kind == "int":
        return parse_int
    if kind == "float":
        return parse_float
    if kind == "bool":
        return parse_bool
    if kind == "date":
        return parse_date
    if kind == "datetime":
        return datetime_parser(zone)
    if kind == "list":
        return parse_list
    return None


def parse_list(text: str) -> list[Any]:
    """An event property declared `list`: a JSON array, else items separated by `|` (a
    spreadsheet cell), each stripped; empty items dropped."""
    text = text.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON array: {exc.msg}") from None
        if not isinstance(value, list):
            raise ValueError("not a JSON array")
        return value
    return [item.strip() for item in text.split("|") if item.strip()]
