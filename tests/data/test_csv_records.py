"""`source.csv_records` splits a line without quotes itself and gives the rest to the csv
module: the records, lines and problems must be exactly what one csv.reader over the whole
file gives (the reader it replaced), for any text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeyctl.data import decode
from journeyctl.data.source import Fatal, csv_records, unquote_formulas
from journeyctl.diagnostics import Diagnostic

Record = tuple[int, list[str], str | None]

# Everything the csv module treats specially, and some text it does not.
ALPHABET = ["a", "b", "한", " ", ",", '"', "'", "=", "+", "\r", "\n", "\r\n", "\x00", "\t", "x" * 9]
cells = st.lists(st.sampled_from(ALPHABET), max_size=40).map("".join)


def reference(text: str, path: Path, delimiter: str) -> tuple[list[Record], str | None]:
    """One csv.reader over the whole text, line numbers from its line_num: the old reader."""
    out: list[Record] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, delimiter=delimiter)
    prev = 0
    try:
        for row in reader:
            line = prev + 1
            prev = reader.line_num
            if not row:
                continue
            unquote_formulas(row)
            col = next((i for i, c in enumerate(row, 1) if "\x00" in c), 0)
            out.append((line, row, f"{line}:{col}" if col else None))
    except csv.Error:
        return out, f"fatal at {prev + 1}"
    return out, None


def actual(path: Path, encoding: str) -> tuple[list[Record], str | None]:
    out: list[Record] = []
    with decode.open_marked(path, encoding) as f:
        records: Iterator[tuple[int, list[str], Diagnostic | None]] = csv_records(f, path, encoding)
        try:
            for line, row, bad in records:
                where = f"{bad.location.line}:{bad.location.col}" if bad else None
                out.append((line, row, where))
        except Fatal as exc:
            return out, f"fatal at {exc.diagnostic.location.line}"
    return out, None


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=cells, utf16=st.booleans())
def test_records_equal_the_csv_module(tmp_path: Path, text: str, utf16: bool) -> None:
    path = tmp_path / "data.csv"
    encoding = "utf-16" if utf16 else "utf-8"
    path.write_bytes(text.encode(encoding))
    # Excel's UTF-16 "Unicode text" is tab-separated when its first line has a tab
    first = io.StringIO(text, newline="").readline()
    delimiter = "\t" if utf16 and "\t" in first else ","
    assert actual(path, encoding) == reference(text, path, delimiter)


@pytest.mark.parametrize(
    "text",
    [
        'id,name\r\nc1,"multi\r\nline"\r\nc2,x\r\n',  # a quoted record over two lines
        "id,name\r\n\r\nc1,x\r\n\r\n",  # blank lines skipped, numbers kept
        "id,name\rc1,x\rc2,y",  # old Mac line breaks, no final one
        'id,name\nc1,"unclosed\nc2,x\n',  # an unclosed quote: fatal where it starts
        "id,name\nc1,'=1+1\nc2,'x\n",  # the formula guard undone, a plain quote kept
        "id,name\nc1,a\x00b\n",  # a NUL located
        'id,name\nc1,ab"c\n',  # a quote inside an unquoted field
        'id,name\nc1,"a"b\n',  # text after a closing quote: strict mode refuses it
    ],
)
def test_records_of_ugly_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(text.encode())
    assert actual(path, "utf-8") == reference(text, path, ",")


def test_a_line_over_the_field_limit_goes_to_the_csv_module(tmp_path: Path) -> None:
    """Longer than the limit: the csv module says which field, as before."""
    path = tmp_path / "data.csv"
    text = "id,name\nc1," + "y" * 40 + "\nc2,x\n"
    path.write_bytes(text.encode())
    limit = csv.field_size_limit(30)
    try:
        got = actual(path, "utf-8")
        with decode.open_marked(path, "utf-8") as f, pytest.raises(Fatal) as exc:
            list(csv_records(f, path, "utf-8"))
    finally:
        csv.field_size_limit(limit)
    assert got == ([(1, ["id", "name"], None)], "fatal at 2")
    assert (exc.value.diagnostic.location.line, exc.value.diagnostic.location.col) == (2, 2)
    assert "field larger than field limit" in exc.value.diagnostic.message
