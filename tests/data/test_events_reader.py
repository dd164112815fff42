"""Events CSV/JSONL: required columns, ISO times, stable property tuples (SPEC §3)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from journeyctl.data.events import iter_events, read_events
from journeyctl.engine.model import Event
from journeyctl.errors import DataError
from journeyctl.spec.models import ProjectSettings

SEOUL = ProjectSettings(timezone="Asia/Seoul")


def write(tmp_path: Path, text: str, name: str = "events.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode())
    return p


def errors_of(path: Path) -> list[str]:
    with pytest.raises(DataError) as exc:
        read_events(path, SEOUL)
    return [str(d) for d in exc.value.diagnostics]


def test_reads_events_with_sorted_string_properties(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "step,contact_id,event,at,amount,coupon\n"
        ",c1,subscribed,2026-01-05T09:00:00+09:00,,\n"
        "hello, c2 ,purchased,2026-01-05 09:00, 12000 ,봄세일\n",
    )
    assert read_events(p, SEOUL).items == [
        Event("c1", "subscribed", datetime(2026, 1, 5, 0, tzinfo=UTC)),
        Event(
            "c2",
            "purchased",
            datetime(2026, 1, 5, 0, tzinfo=UTC),  # naive: project timezone
            (("amount", "12000"), ("coupon", "봄세일"), ("step", "hello")),
        ),
    ]


def test_natural_key_is_independent_of_column_order(tmp_path: Path) -> None:
    a = write(tmp_path, "contact_id,event,at,b,a\nc1,clicked,2026-01-05T00:00Z,2,1\n", "a.csv")
    b = write(tmp_path, "a,at,b,event,contact_id\n1,2026-01-05T09:00+09:00,2,clicked,c1\n", "b.csv")
    j = write(
        tmp_path,
        '{"b": "2", "a": "1", "contact_id": "c1", "event": "clicked", "at": "2026-01-05T00:00:00Z"}\n',
        "c.jsonl",
    )
    keys = {read_events(p, SEOUL).items[0].natural_key for p in (a, b, j)}
    assert len(keys) == 1


def test_naive_time_in_a_dst_zone(tmp_path: Path) -> None:
    p = write(tmp_path, "contact_id,event,at\nc1,x,2026-01-15T12:00\nc1,x,2026-07-15T12:00\n")
    ny = ProjectSettings(timezone="America/New_York")
    assert [e.at.hour for e in read_events(p, ny).items] == [17, 16]


@pytest.mark.parametrize("missing", ["contact_id", "event", "at"])
def test_missing_required_column(tmp_path: Path, missing: str) -> None:
    cols = [c for c in ("contact_id", "event", "at", "note") if c != missing]
    p = write(tmp_path, ",".join(cols) + "\n")
    found = ", ".join(repr(c) for c in cols)
    assert errors_of(p) == [
        f"{p}:1:1: error[missing-column]: no {missing!r} column; found: {found}"
    ]


def test_bad_rows_are_located(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "contact_id,event,at\n"
        "c1,purchased,2026-01-05T09:00\n"
        ",purchased,2026-01-05T09:00\n"
        "c3,bought stuff,2026-01-05T09:00\n"
        "c4,_x,2026-01-05T09:00\n"
        "c5,clicked,2026-02-30T09:00\n"
        "c6,clicked,\n"
        "c7,,2026-01-05\n",
    )
    assert errors_of(p) == [
        f"{p}:3:1: error[missing-id]: column contact_id: the contact id is empty",
        f"{p}:4:2: error[bad-event-name]: column event: 'bought stuff' is not an event name",
        f"{p}:5:2: error[bad-event-name]: column event: '_x' is not an event name",
        f"{p}:6:3: error[bad-datetime]: column at: '2026-02-30T09:00' is not a datetime",
        f"{p}:7:3: error[bad-datetime]: column at: the time is empty",
        f"{p}:8:2: error[bad-event-name]: column event: the event name is empty",
    ]


def test_event_names_allowed(tmp_path: Path) -> None:
    p = write(
        tmp_path, "contact_id,event,at\nc1,cart.abandoned-v2_x,2026-01-05\nc1,9lives,2026-01-05\n"
    )
    assert [e.name for e in read_events(p, SEOUL).items] == ["cart.abandoned-v2_x", "9lives"]


def test_cp949_crlf_events(tmp_path: Path) -> None:
    p = tmp_path / "events.csv"
    p.write_bytes(
        "contact_id,event,at,상품\r\nc1,purchased,2026-01-05 10:00,떡볶이\r\n".encode("cp949")
    )
    [e] = read_events(p, SEOUL).items
    assert e.props == (("상품", "떡볶이"),)


def test_jsonl_keeps_json_scalars(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        '{"contact_id": 42, "event": "purchased", "at": "2026-01-05T09:00", "amount": 12000,'
        ' "gift": false, "ratio": 0.5, "note": null, "blank": " "}\n',
        "events.ndjson",
    )
    [e] = read_events(p, SEOUL).items
    assert e == Event(
        "42",
        "purchased",
        datetime(2026, 1, 5, 0, tzinfo=UTC),
        (("amount", 12000), ("gift", False), ("ratio", 0.5)),
    )


def test_jsonl_bad_lines(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        '{"contact_id": "c1", "event": "opened", "at": 1767571200}\n'
        '{"contact_id": "c1", "event": "opened", "at": "2026-01-05", "items": [1]}\n'
        "not json\n",
        "events.jsonl",
    )
    assert errors_of(p) == [
        f"{p}:1:41: error[bad-datetime]: column at: '1767571200' is not a datetime",
        f"{p}:2:61: error[bad-json]: items: expected a single value, got a JSON list",
        f"{p}:3:1: error[bad-json]: not valid JSON: Expecting value",
    ]


def test_iter_events_streams(tmp_path: Path) -> None:
    p = write(tmp_path, "contact_id,event,at\nc1,a,2026-01-05\nc2,a,nope\nc3,b,2026-01-06\n")
    out = list(iter_events(p, SEOUL))
    assert [x.contact_id if isinstance(x, Event) else x.code for x in out] == [
        "c1",
        "bad-datetime",
        "c3",
    ]
