"""Fuzz: the contact and event readers (issue 14, item 2b).

Any bytes, and CSV/JSONL files built from hostile cells (control characters, NUL, BOMs,
CP949 bytes, quotes, huge numbers, odd dates), read by `read_contacts` / `read_events`:
items, or `InvalidRows` whose every diagnostic is located `file:line:col` inside the file.
Never another exception, never a hang, never a lone surrogate (an undecoded byte, or a JSON
escape like "\\udc80") in an item.
The strict read and the `--skip-invalid` read agree.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import astuple
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeyctl.data import build
from journeyctl.data.contacts import read_contact_rows, read_contacts
from journeyctl.data.events import read_event_rows, read_events
from journeyctl.data.result import InvalidRows, ReadResult
from journeyctl.spec.models import ProjectSettings
from tests.fuzz.support import assert_located, corpus_cases, fuzz, line_count, no_hang

SETTINGS = ProjectSettings.model_validate(
    {
        "timezone": "Asia/Seoul",
        "contacts": {
            "fields": {
                "orders": "int",
                "score": "float",
                "consent_email": "bool",
                "birthday": "date",
                "signup_at": "datetime",
                "locale": "string",
            }
        },
    }
)
Reader = Callable[..., ReadResult[Any]]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def _no_surrogates(item: Any) -> None:
    for text in _strings(astuple(item)):
        # An undecodable byte (U+DC80-U+DCFF here) or a JSON-escaped lone surrogate: no
        # encoding can write it, so the store, the outbox and SMTP would fail on it later.
        assert not any("\ud800" <= ch <= "\udfff" for ch in text), (
            f"a lone surrogate reached an item unreported: {item!r}"
        )


def _read(reader: Reader, path: Path, lines: int, **kw: Any) -> ReadResult[Any] | InvalidRows:
    try:
        with no_hang():
            result = reader(path, SETTINGS, **kw)
    except InvalidRows as exc:
        assert exc.diagnostics, "InvalidRows without a diagnostic"
        assert any(d.is_error for d in exc.diagnostics), exc.diagnostics
        for d in exc.diagnostics:
            assert_located(d, path, lines)
        return exc
    for d in result.diagnostics:
        assert_located(d, path, lines)
    for item in result.items:
        _no_surrogates(item)
    return result


def check_file(reader: Reader, suffix: str, data: bytes) -> None:
    """Read `data` as a file with `suffix`, strictly and with skip_invalid: both readings end
    in items or located diagnostics, and they agree."""
    folder = Path(tempfile.mkdtemp(prefix="jc-fuzz-"))
    try:
        path = folder / f"input{suffix}"
        path.write_bytes(data)
        lines = line_count(data)
        strict = _read(reader, path, lines)
        rejects = folder / "input.rejects"
        lenient = _read(reader, path, lines, skip_invalid=True, rejects=rejects)
        if isinstance(strict, ReadResult):
            assert isinstance(lenient, ReadResult), lenient
            assert lenient.rejected == 0
            assert lenient.items == strict.items
            assert not rejects.exists() or strict.rejected == 0
        elif isinstance(lenient, ReadResult):
            assert not strict.fatal
            assert lenient.rejected == strict.bad_rows > 0
            assert rejects.is_file()
        else:
            assert lenient.fatal, "skip_invalid refused a file with only bad rows"
            assert not rejects.exists(), "a rejects file left behind after a fatal error"
        _rows_agree(reader, path, strict)
        _rows_agree(reader, path, lenient, rejects)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# The row readers simulate's partition uses: the same rows as tuples, the same problems.
ROW_READERS: dict[Reader, tuple[Reader, Callable[[Any], tuple[Any, ...]]]] = {
    read_contacts: (read_contact_rows, build.contact_of),
    read_events: (read_event_rows, build.event_of),
}


def _rows_agree(
    reader: Reader, path: Path, read: ReadResult[Any] | InvalidRows, rejects: Path | None = None
) -> None:
    """The row reader gives the tuples of the items `read` holds, or fails the same way, and
    writes the same rejects file."""
    row_reader, as_row = ROW_READERS[reader]
    rows: list[tuple[Any, ...]] = []
    again = path.with_name("again.rejects")
    kw: dict[str, Any] = {} if rejects is None else {"skip_invalid": True, "rejects": again}
    try:
        with no_hang():
            result = row_reader(path, SETTINGS, each=rows.append, **kw)
    except InvalidRows as exc:
        assert isinstance(read, InvalidRows), exc.diagnostics
        assert (exc.diagnostics, exc.bad_rows, exc.fatal) == (
            read.diagnostics,
            read.bad_rows,
            read.fatal,
        )
        return
    assert isinstance(read, ReadResult), read
    assert rows == [as_row(item) for item in read.items]
    assert (result.diagnostics, result.rejected, result.rows) == (
        read.diagnostics,
        read.rejected,
        read.rows,
    )
    if rejects is not None:
        assert again.exists() == rejects.exists()
        if rejects.exists():
            assert again.read_bytes() == rejects.read_bytes()


def check_contacts_csv(data: bytes) -> None:
    check_file(read_contacts, ".csv", data)


def check_contacts_jsonl(data: bytes) -> None:
    check_file(read_contacts, ".jsonl", data)


def check_events_csv(data: bytes) -> None:
    check_file(read_events, ".csv", data)


def check_events_jsonl(data: bytes) -> None:
    check_file(read_events, ".jsonl", data)


CHECKS = {
    "contacts_csv": check_contacts_csv,
    "contacts_jsonl": check_contacts_jsonl,
    "events_csv": check_events_csv,
    "events_jsonl": check_events_jsonl,
}

# --- strategies --------------------------------------------------------------------------

_hostile_text = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\ufeff",
        "\ufeffid",
        "\r",
        "\n",
        "\r\n",
        "\u2028",
        "\x1b[31m",
        '"',
        '""',
        ",",
        '=HYPERLINK("http://x")',
        "+1",
        "-0",
        "9" * 30,
        "9" * 5000,
        "1e999",
        "-1e309",
        "nan",
        "NaN",
        "inf",
        "１２３",  # full-width digits
        "1,234",
        "1_000",
        "2026-11-01",
        "2026.1.5",
        "2026/01/05 9:30",
        "2026-11-01T09:00:00+09:00",
        "2026-11-01T09:00:00",
        "9999-12-31T23:59:59+00:00",
        "0001-01-01",
        "2026-02-30",
        "예",
        "아니오",
        "true",
        "Yes",
        "김하루",
        "Asia/Seoul",
        "Mars/Olympus",
        "../../etc/localtime",
        "a@example.com",
        "A@Example.COM",
        "a@例え.jp",
        "01012345678",
        "+82 10-1234-5678",
    ]
)
_cell_text = st.one_of(_hostile_text, st.text(max_size=12), st.from_regex(r"[0-9.,:/T+-]{1,20}"))


@st.composite
def _cell_bytes(draw: st.DrawFn) -> bytes:
    """One cell as it appears in the file: UTF-8 or CP949, quoted or not, or raw bytes."""
    how = draw(st.sampled_from(["utf8", "utf8", "utf8", "cp949", "quoted", "raw"]))
    if how == "raw":
        return draw(st.binary(max_size=6))
    text = draw(_cell_text)
    if how == "cp949":
        return draw(st.sampled_from(["김하루", "똠얌", "서울", "이름"])).encode("cp949")
    if how == "quoted":
        return b'"' + text.replace('"', '""').encode("utf-8", "surrogatepass") + b'"'
    return text.encode("utf-8", "surrogatepass")


CONTACT_COLUMNS = ["id", "email", "phone", "name", "timezone", "orders", "score",
                   "consent_email", "birthday", "signup_at", "locale", "extra", ""]  # fmt: skip
EVENT_COLUMNS = ["contact_id", "event", "at", "total", "item", ""]


def _csv_files(columns: list[str], required: list[str]) -> st.SearchStrategy[bytes]:
    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        header = draw(st.lists(st.sampled_from(columns), max_size=7))
        if draw(st.booleans()):  # mostly a header the reader accepts, so rows get read
            header = list(dict.fromkeys(required + header))
        header_bytes = b",".join(h.encode() for h in header)
        if draw(st.booleans()):
            header_bytes = b"\xef\xbb\xbf" + header_bytes
        eol = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
        rows = []
        for _ in range(draw(st.integers(0, 6))):
            width = len(header) + draw(st.sampled_from([0, 0, 0, -1, 1]))
            cells = [draw(_cell_bytes()) for _ in range(max(width, 0))]
            rows.append(b",".join(cells))
        mixed = draw(st.booleans())
        out = header_bytes
        for row in rows:
            out += (draw(st.sampled_from([b"\n", b"\r\n", b"\r"])) if mixed else eol) + row
        if draw(st.booleans()):
            out += eol
        return out

    return build()


def _well_formed_csv(columns: list[str], required: list[str]) -> st.SearchStrategy[bytes]:
    """Correctly quoted CSV (csv.writer) of hostile cell text: rows must reach the parsers."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        extra = draw(st.lists(st.sampled_from([c for c in columns if c]), max_size=5))
        header = list(dict.fromkeys(required + extra))
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
        writer.writerow(header)
        for _ in range(draw(st.integers(0, 6))):
            writer.writerow([draw(_cell_text) for _ in header])
        # utf-16: what Excel's "Unicode text" saves (with a BOM).
        encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
        return buf.getvalue().encode(encoding, "surrogatepass")

    return build()


# Lone surrogates too (st.text never makes them): JSON can escape one ("\\udc80"), and the
# readers refuse it, located (corpus/*_jsonl/lone-surrogate-*).
_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(),
    _cell_text,
    st.sampled_from(["\udc80", "a\ud83d", "\ud83d\ude00"]),
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def _jsonl_files(keys: list[str]) -> st.SearchStrategy[bytes]:
    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        lines = []
        for _ in range(draw(st.integers(0, 6))):
            kind = draw(st.sampled_from(["object", "object", "object", "value", "junk"]))
            if kind == "object":
                obj = draw(
                    st.dictionaries(
                        st.one_of(st.sampled_from(keys), st.text(max_size=5)),
                        _json_values,
                        max_size=6,
                    )
                )
                text = json.dumps(obj, ensure_ascii=draw(st.booleans()))
                lines.append(text.encode("utf-8", "surrogatepass"))
            elif kind == "value":
                lines.append(json.dumps(draw(_json_values)).encode())
            else:
                lines.append(draw(st.binary(max_size=20)).replace(b"\n", b" "))
        eol = draw(st.sampled_from([b"\n", b"\r\n"]))
        return eol.join(lines)

    return build()


# Any bytes, also behind a BOM (UTF-8, UTF-16 LE/BE) so the other decoders see junk too.
any_bytes = st.one_of(
    st.binary(max_size=300),
    st.tuples(
        st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]), st.binary(max_size=300)
    ).map(b"".join),
    st.text(max_size=100).map(lambda t: "id,name\n".encode("utf-16-le") + t.encode("utf-16-le")),
)
contact_keys = [c for c in CONTACT_COLUMNS if c]
event_keys = [c for c in EVENT_COLUMNS if c]

# --- properties --------------------------------------------------------------------------


@fuzz
@given(any_bytes)
def test_contacts_csv_of_any_bytes(data: bytes) -> None:
    check_contacts_csv(data)


@fuzz
@given(_csv_files(CONTACT_COLUMNS, ["id"]))
def test_contacts_csv_of_hostile_cells(data: bytes) -> None:
    check_contacts_csv(data)


@fuzz
@given(_well_formed_csv(CONTACT_COLUMNS, ["id"]))
def test_contacts_csv_well_formed_hostile_values(data: bytes) -> None:
    check_contacts_csv(data)


@fuzz
@given(st.one_of(st.binary(max_size=200), _jsonl_files(contact_keys)))
def test_contacts_jsonl(data: bytes) -> None:
    check_contacts_jsonl(data)


@fuzz
@given(any_bytes)
def test_events_csv_of_any_bytes(data: bytes) -> None:
    check_events_csv(data)


@fuzz
@given(st.one_of(_csv_files(EVENT_COLUMNS, ["contact_id", "event", "at"]),
                 _well_formed_csv(EVENT_COLUMNS, ["contact_id", "event", "at"])))  # fmt: skip
def test_events_csv_of_hostile_cells(data: bytes) -> None:
    check_events_csv(data)


@fuzz
@given(st.one_of(st.binary(max_size=200), _jsonl_files(event_keys)))
def test_events_jsonl(data: bytes) -> None:
    check_events_jsonl(data)


# --- the saved corpus --------------------------------------------------------------------


def _cases() -> Iterator[Any]:
    for target, check in CHECKS.items():
        for path in corpus_cases(target):
            yield pytest.param(check, path, id=f"{target}/{path.name}")


@pytest.mark.parametrize(("check", "path"), list(_cases()))
def test_saved_case(check: Callable[[bytes], None], path: Path) -> None:
    check(path.read_bytes())
