"""Contacts CSV/JSONL: typed columns, located diagnostics, all-or-nothing (SPEC §3)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from journeyctl.data.contacts import iter_contacts, read_contacts
from journeyctl.diagnostics import Diagnostic
from journeyctl.engine.model import Contact
from journeyctl.errors import DataError
from journeyctl.spec.models import ProjectSettings

FIELDS = {
    "signup_at": "datetime",
    "birthday": "date",
    "orders": "int",
    "score": "float",
    "vip": "bool",
}


def typed(zone: str = "Asia/Seoul", **fields: str) -> ProjectSettings:
    return ProjectSettings(timezone=zone, contacts={"fields": fields})  # type: ignore[arg-type]


TYPED = typed(**FIELDS)
SEOUL = typed()
GOOD = {"int": "1", "float": "1.5", "bool": "yes", "date": "2026-01-01", "datetime": "2026-01-01"}


def write(tmp_path: Path, text: str, name: str = "contacts.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode())
    return p


def errors_of(path: Path, settings: ProjectSettings = SEOUL) -> list[str]:
    with pytest.raises(DataError) as exc:
        read_contacts(path, settings)
    return [str(d) for d in exc.value.diagnostics if d.is_error]


def test_reads_known_columns_and_typed_attributes(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "id,email,phone,name,timezone,signup_at,birthday,orders,score,vip,plan\n"
        " c1 , kim@example.com ,010-1234-5678, 김철수 ,America/New_York,"
        '2026-01-05T09:30:00+09:00,1990-02-28,"1,234",4.5,예, pro \n',
    )
    result = read_contacts(p, TYPED)
    assert result.diagnostics == [] and result.rejected == 0
    assert result.items == [
        Contact(
            id="c1",
            email="kim@example.com",
            phone="01012345678",
            name="김철수",
            timezone="America/New_York",
            attrs={
                "plan": "pro",
                "signup_at": datetime(2026, 1, 5, 0, 30, tzinfo=UTC),
                "birthday": date(1990, 2, 28),
                "orders": 1234,
                "score": 4.5,
                "vip": True,
            },
        )
    ]


def test_empty_cells_are_none_for_every_type(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "id,email,phone,name,timezone,signup_at,birthday,orders,score,vip,plan\nc1,, , ,,,,,, ,\n",
    )
    [c] = read_contacts(p, TYPED).items
    assert (c.email, c.phone, c.name, c.timezone) == (None, None, None, None)
    assert c.attrs == dict.fromkeys([*FIELDS, "plan"])


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("int", "42", 42),
        ("int", "-7", -7),
        ("int", "1,234,567", 1234567),
        ("float", "2.5", 2.5),
        ("float", "1,234.5", 1234.5),
        ("float", "3", 3.0),
        ("date", "2026-03-01", date(2026, 3, 1)),
        ("date", "2026.03.01", date(2026, 3, 1)),
        ("date", "2026/3/1", date(2026, 3, 1)),
        ("datetime", "2026-03-01T09:00:00Z", datetime(2026, 3, 1, 9, tzinfo=UTC)),
        ("datetime", "2026-03-01 09:00", datetime(2026, 3, 1, 0, tzinfo=UTC)),  # naive: Seoul
        ("datetime", "2026-03-01T09:00-05:00", datetime(2026, 3, 1, 14, tzinfo=UTC)),
        ("datetime", "2026/3/1 9:05", datetime(2026, 3, 1, 0, 5, tzinfo=UTC)),  # Excel style
        ("datetime", "2026-03-01", datetime(2026, 2, 28, 15, tzinfo=UTC)),  # local midnight
        *[("bool", t, True) for t in ["true", "TRUE", "yes", "Y", "1", "예", "네"]],
        *[("bool", t, False) for t in ["false", "No", "n", "0", "아니오", "아니요"]],
    ],
)
def test_typed_cell_ok(tmp_path: Path, kind: str, text: str, expected: Any) -> None:
    p = write(tmp_path, f'id,x\nc1,"{text}"\n')
    [c] = read_contacts(p, typed(x=kind)).items
    assert c.attrs["x"] == expected
    assert type(c.attrs["x"]) is type(expected)


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        ("int", "12.5", "error[bad-int]: column x: '12.5' is not an int"),
        ("int", "1_000", "error[bad-int]: column x: '1_000' is not an int"),
        ("int", "1,23", "error[bad-int]: column x: '1,23' is not an int"),
        ("float", "nan", "error[bad-float]: column x: 'nan' is not a float"),
        ("float", "abc", "error[bad-float]: column x: 'abc' is not a float"),
        ("bool", "maybe", "error[bad-bool]: column x: 'maybe' is not a bool"),
        ("date", "2026-02-30", "error[bad-date]: column x: '2026-02-30' is not a date"),
        ("date", "2026-03.01", "error[bad-date]: column x: '2026-03.01' is not a date"),
        ("date", "01/03/2026", "error[bad-date]: column x: '01/03/2026' is not a date"),
        ("datetime", "2026-13-01", "error[bad-datetime]: column x: '2026-13-01' is not a datetime"),
        ("datetime", "yesterday", "error[bad-datetime]: column x: 'yesterday' is not a datetime"),
    ],
)
def test_typed_cell_bad(tmp_path: Path, kind: str, text: str, message: str) -> None:
    p = write(tmp_path, f'id,name,x\nc1,a,{GOOD[kind]}\nc2,b,"{text}"\n')
    assert errors_of(p, typed(x=kind)) == [f"{p}:3:3: {message}"]


def test_bad_cell_has_a_hint(tmp_path: Path) -> None:
    p = write(tmp_path, "id,signup_at\nc1,2026-13-01\n")
    with pytest.raises(DataError) as exc:
        read_contacts(p, typed(signup_at="datetime"))
    assert exc.value.diagnostics[0].hint == (
        "write ISO 8601 like 2026-01-05T09:30:00+09:00; without an offset it is in the"
        " project timezone"
    )


def test_naive_datetime_uses_the_project_timezone(tmp_path: Path) -> None:
    p = write(tmp_path, "id,signup_at\nc1,2026-07-01T12:00:00\n")
    [c] = read_contacts(p, typed("America/New_York", signup_at="datetime")).items
    assert c.attrs["signup_at"] == datetime(2026, 7, 1, 16, tzinfo=UTC)  # EDT = UTC-4
    [c] = read_contacts(p, typed(signup_at="datetime")).items
    assert c.attrs["signup_at"] == datetime(2026, 7, 1, 3, tzinfo=UTC)


def test_every_bad_cell_of_a_row_is_reported(tmp_path: Path) -> None:
    p = write(tmp_path, "id,email,orders,vip\nc1,a b@x.com,many,perhaps\n")
    assert errors_of(p, typed(orders="int", vip="bool")) == [
        f"{p}:2:2: error[bad-email]: column email: 'a b@x.com' is not an email address",
        f"{p}:2:3: error[bad-int]: column orders: 'many' is not an int",
        f"{p}:2:4: error[bad-bool]: column vip: 'perhaps' is not a bool",
    ]


@pytest.mark.parametrize(
    "email",
    [
        "no-at-sign",
        "a@b@c.com",
        "@a@b.com",
        "@x.com",
        "a@",
        "a\tb@x.com",
        "a@x\u2028.com",
        '"a\r\nBcc: e@x.com"',
    ],
)
def test_bad_email(tmp_path: Path, email: str) -> None:
    p = write(tmp_path, f"id,email\nc1,{email}\n")
    [d] = errors_of(p)
    assert d.startswith(f"{p}:2:2: error[bad-email]: column email: ")


def test_phone_keeps_digits_and_leading_plus(tmp_path: Path) -> None:
    p = write(tmp_path, "id,phone\nc1,+82 10-1234-5678\nc2,(010) 1234.5678\nc3,n/a\n")
    with pytest.raises(DataError) as exc:
        read_contacts(p, SEOUL)
    assert [str(d) for d in exc.value.diagnostics] == [
        f"{p}:4:2: error[bad-phone]: column phone: 'n/a' has no digits"
    ]
    result = read_contacts(p, SEOUL, skip_invalid=True)
    assert [c.phone for c in result.items] == ["+821012345678", "01012345678"]


def test_multiline_quoted_field_keeps_physical_line_numbers(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        'id,name,note,orders\r\nc1,a,"line one\r\nline two\r\nline three",1\r\n'
        'c2,b,"x\ny",2\r\n\r\nc3,c,plain,three\r\n',
    )
    # c1 spans lines 2-4, c2 lines 5-6, a blank line 7, c3 is on line 8
    assert errors_of(p, typed(orders="int")) == [
        f"{p}:8:4: error[bad-int]: column orders: 'three' is not an int"
    ]
    result = read_contacts(p, typed(orders="int"), skip_invalid=True)
    assert result.items[0].attrs["note"] == "line one\r\nline two\r\nline three"


def test_duplicate_id_names_the_first_line(tmp_path: Path) -> None:
    p = write(tmp_path, "id,name\nc1,a\nc2,b\nc1,c\n")
    assert errors_of(p) == [
        f"{p}:4:1: error[duplicate-id]: column id: 'c1' is already used on line 2"
    ]


def test_empty_id(tmp_path: Path) -> None:
    p = write(tmp_path, "name,id\na,c1\nb,  \n")
    assert errors_of(p) == [f"{p}:3:2: error[missing-id]: column id: the id is empty"]


def test_missing_id_column(tmp_path: Path) -> None:
    p = write(tmp_path, "ID,email\nc1,a@x.com\n")
    with pytest.raises(DataError) as exc:
        read_contacts(p, SEOUL, skip_invalid=True)  # a header problem is never skippable
    [d] = exc.value.diagnostics
    assert str(d) == f"{p}:1:1: error[missing-column]: no 'id' column; found: 'ID', 'email'"
    assert d.hint == "rename 'ID' to 'id'"


def test_empty_file(tmp_path: Path) -> None:
    p = write(tmp_path, "")
    assert errors_of(p) == [f"{p}:1:1: error[missing-column]: the file is empty"]


def test_duplicate_column(tmp_path: Path) -> None:
    p = write(tmp_path, "id,email,name,email\n")
    assert errors_of(p) == [
        f"{p}:1:4: error[duplicate-column]: column 'email' appears twice (also column 2)"
    ]


def test_wrong_number_of_fields(tmp_path: Path) -> None:
    p = write(tmp_path, "id,name,plan\nc1,a\nc2,b,pro,extra\nc3,c,pro,,\n")
    # trailing empty cells (Excel's stray commas) are fine; values past the header are not
    assert errors_of(p) == [
        f"{p}:2:3: error[bad-row]: the row has 2 fields but the header has 3",
        f"{p}:3:4: error[bad-row]: the row has 4 fields but the header has 3",
    ]


def test_unclosed_quote_stops_at_the_record_start(tmp_path: Path) -> None:
    p = write(tmp_path, 'id,name\nc1,a\nc2,"oops\nc3,c\n')
    with pytest.raises(DataError) as exc:
        read_contacts(p, SEOUL, skip_invalid=True)
    assert [str(d) for d in exc.value.diagnostics] == [
        f"{p}:3:1: error[bad-row]: malformed CSV in the record starting here: unexpected end of data"
    ]


def test_unnamed_column_must_be_empty(tmp_path: Path) -> None:
    p = write(tmp_path, "id,name,\nc1,a,\nc2,b,surprise\n")
    assert errors_of(p) == [
        f"{p}:3:3: error[bad-row]: column 3 has a value but no name in the header"
    ]


def test_invalid_timezone_is_a_warning_and_falls_back(tmp_path: Path) -> None:
    p = write(tmp_path, "id,timezone\nc1,Asia/Seoul\nc2,Mars/Olympus\nc3,\n")
    result = read_contacts(p, SEOUL)
    assert [c.timezone for c in result.items] == ["Asia/Seoul", None, None]
    [d] = result.diagnostics
    assert str(d) == (
        f"{p}:3:2: warning[bad-timezone]: column timezone: 'Mars/Olympus' is not an IANA"
        " timezone; using the project timezone Asia/Seoul"
    )


def test_declared_field_missing_from_file_reads_as_empty(tmp_path: Path) -> None:
    p = write(tmp_path, "id,vip\nc1,yes\n")
    result = read_contacts(p, TYPED)
    assert result.items[0].attrs == {
        "vip": True,
        "signup_at": None,
        "birthday": None,
        "orders": None,
        "score": None,
    }
    assert [d.code for d in result.diagnostics] == ["missing-column"] * 4
    assert all(not d.is_error for d in result.diagnostics)


def test_night_consent_column_is_bool_without_declaring_it(tmp_path: Path) -> None:
    p = write(tmp_path, "id,night_consent,note\nc1,예,1\n")
    [c] = read_contacts(p, ProjectSettings()).items
    assert c.attrs == {"night_consent": True, "note": "1"}


def test_all_or_nothing_keeps_reporting_every_bad_row(tmp_path: Path) -> None:
    rows = "".join(f"c{i},{'x' if i % 3 == 0 else i}\n" for i in range(1, 10))
    p = write(tmp_path, "id,orders\n" + rows)
    assert [e.split(":")[1] for e in errors_of(p, typed(orders="int"))] == ["4", "7", "10"]


def test_iter_contacts_streams_items_and_diagnostics_in_order(tmp_path: Path) -> None:
    p = write(tmp_path, "id,orders,timezone\nc1,1,\nc2,x,\nc3,3,Nowhere\n")
    out = list(iter_contacts(p, typed(orders="int")))
    assert [x.id if isinstance(x, Contact) else x.code for x in out] == [
        "c1",
        "bad-int",
        "bad-timezone",
        "c3",
    ]
    assert all(isinstance(x, Contact | Diagnostic) for x in out)


# --- JSONL --------------------------------------------------------------------------------


def test_jsonl_contacts(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        '{"id": 7, "email": "a@x.com", "orders": 3, "vip": true, "signup_at": "2026-01-05T09:00", "plan": "pro", "n": 2}\n'
        "\n"
        '{"id": "c2", "name": "이영희", "orders": "1,200", "score": 1, "vip": "no", "timezone": "Asia/Seoul"}\n',
        "contacts.jsonl",
    )
    a, b = read_contacts(p, TYPED).items
    assert a == Contact(
        "7",
        "a@x.com",
        attrs={
            "orders": 3,
            "vip": True,
            "signup_at": datetime(2026, 1, 5, 0, tzinfo=UTC),
            "plan": "pro",
            "n": 2,
            "birthday": None,
            "score": None,
        },
    )
    assert (b.name, b.timezone, b.attrs["orders"], b.attrs["score"], b.attrs["vip"]) == (
        "이영희",
        "Asia/Seoul",
        1200,
        1.0,
        False,
    )


def test_jsonl_bad_lines(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        '{"id": "c1", "orders": 1.5}\n'
        '{"id": "c2", oops}\n'
        '["c3"]\n'
        '{"id": "c1"}\n'
        '{"email": "a@x.com"}\n'
        '{"id": "c6", "tags": ["a"]}\n',
        "contacts.ndjson",
    )
    assert errors_of(p, typed(orders="int")) == [
        f"{p}:1:14: error[bad-int]: column orders: '1.5' is not an int",
        f"{p}:2:14: error[bad-json]: not valid JSON: Expecting property name enclosed in double quotes",
        f"{p}:3:1: error[bad-json]: expected a JSON object, got list",
        f"{p}:4:2: error[duplicate-id]: id: 'c1' is already used on line 1",
        f"{p}:5:1: error[missing-id]: id: the id is empty or missing",
        f"{p}:6:14: error[bad-json]: tags: expected a single value, got a JSON list",
    ]


def test_oversized_field_stops_the_read(tmp_path: Path) -> None:
    p = write(tmp_path, "id,note\nc1,ok\nc2," + "x" * 200_000 + "\n")
    assert errors_of(p) == [
        f"{p}:3:2: error[bad-row]: malformed CSV in the record starting here:"
        " field larger than field limit (131072)"
    ]
