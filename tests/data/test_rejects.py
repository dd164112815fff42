"""--skip-invalid: good rows import, bad rows go to a rejects file written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from journeyctl.data.contacts import read_contacts
from journeyctl.data.events import read_events
from journeyctl.errors import DataError, UsageError
from journeyctl.spec.models import ProjectSettings

SETTINGS = ProjectSettings(timezone="Asia/Seoul", contacts={"fields": {"orders": "int"}})  # type: ignore[arg-type]


def test_skip_invalid_returns_good_rows_and_writes_rejects(tmp_path: Path) -> None:
    src = tmp_path / "contacts.csv"
    src.write_text(
        'id,name,orders\nc1,김철수,1\nc2, 이영희 ,many\nc3,"two\nlines",3\nc1,dup,4\nc5,short\n',
        encoding="utf-8",
    )
    out = tmp_path / "rejects.csv"
    result = read_contacts(src, SETTINGS, skip_invalid=True, rejects=out)
    assert [c.id for c in result.items] == ["c1", "c3"]
    assert result.rejected == 3
    assert [d.code for d in result.diagnostics] == ["bad-int", "duplicate-id", "bad-row"]
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM so Excel opens Korean text correctly
    assert raw.decode("utf-8-sig") == (
        "id,name,orders,error\r\n"
        "c2, 이영희 ,many,line 3 col 3: bad-int: column orders: 'many' is not an int\r\n"
        "c1,dup,4,line 6 col 1: duplicate-id: column id: 'c1' is already used on line 2\r\n"
        "c5,short,,line 7 col 3: bad-row: the row has 2 fields but the header has 3\r\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contacts.csv", "rejects.csv"]


def test_rejects_file_with_no_rejects_has_only_the_header(tmp_path: Path) -> None:
    src = tmp_path / "c.csv"
    src.write_text("id,error\nc1,none\n")
    out = tmp_path / "rejects.csv"
    out.write_text("stale rejects from an earlier run\n")
    result = read_contacts(src, SETTINGS, skip_invalid=True, rejects=out)
    assert result.rejected == 0
    # the input's own `error` column keeps its name; ours steps aside
    assert out.read_bytes().decode("utf-8-sig") == "id,error,_error\r\n"


def test_fatal_problem_leaves_the_old_rejects_file_alone(tmp_path: Path) -> None:
    src = tmp_path / "c.csv"
    src.write_text('id,orders\nc1,x\nc2,"never closed\n')
    out = tmp_path / "rejects.csv"
    out.write_text("previous\n")
    with pytest.raises(DataError) as exc:
        read_contacts(src, SETTINGS, skip_invalid=True, rejects=out)
    assert [d.code for d in exc.value.diagnostics] == ["bad-int", "bad-row"]
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv", "rejects.csv"]


def test_all_or_nothing_writes_no_rejects(tmp_path: Path) -> None:
    src = tmp_path / "c.csv"
    src.write_text("id,orders\nc1,1\nc2,x\n")
    out = tmp_path / "rejects.csv"
    with pytest.raises(DataError, match="nothing imported"):
        read_contacts(src, SETTINGS, rejects=out)
    assert not out.exists()


def test_cp949_input_rejects_are_utf8(tmp_path: Path) -> None:
    src = tmp_path / "c.csv"
    src.write_bytes("id,name,orders\r\nc1,홍길동,많음\r\n".encode("cp949"))
    out = tmp_path / "r.csv"
    read_contacts(src, SETTINGS, skip_invalid=True, rejects=out)
    assert out.read_text(encoding="utf-8-sig").splitlines()[1] == (
        "c1,홍길동,많음,line 2 col 3: bad-int: column orders: '많음' is not an int"
    )


def test_jsonl_rejects_keep_the_object(tmp_path: Path) -> None:
    src = tmp_path / "events.jsonl"
    src.write_text(
        '{"contact_id": "c1", "event": "opened", "at": "2026-01-05"}\n'
        '{"contact_id": "c1", "event": "opened", "at": "soon", "step": "hello"}\n'
        "{broken\n",
        encoding="utf-8",
    )
    out = tmp_path / "rejects.jsonl"
    result = read_events(src, SETTINGS, skip_invalid=True, rejects=out)
    assert len(result.items) == 1 and result.rejected == 2
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert lines == [
        {
            "contact_id": "c1",
            "event": "opened",
            "at": "soon",
            "step": "hello",
            "error": "line 2 col 41: bad-datetime: column at: 'soon' is not a datetime",
        },
        {
            "line": "{broken",
            "error": "line 3 col 2: bad-json: not valid JSON:"
            " Expecting property name enclosed in double quotes",
        },
    ]


def test_events_skip_invalid(tmp_path: Path) -> None:
    src = tmp_path / "events.csv"
    src.write_text("contact_id,event,at\nc1,a,2026-01-05\nc2,a b,2026-01-05\n")
    out = tmp_path / "r.csv"
    result = read_events(src, SETTINGS, skip_invalid=True, rejects=out)
    assert [e.contact_id for e in result.items] == ["c1"]
    assert out.read_bytes().decode("utf-8-sig") == (
        "contact_id,event,at,error\r\n"
        "c2,a b,2026-01-05,line 3 col 2: bad-event-name: column event: 'a b' is not an event name\r\n"
    )


def test_diagnostics_are_capped_but_counted(tmp_path: Path) -> None:
    src = tmp_path / "c.csv"
    src.write_text("id,orders\n" + "".join(f"c{i},x\n" for i in range(1005)))
    with pytest.raises(DataError) as exc:
        read_contacts(src, SETTINGS)
    diags = exc.value.diagnostics
    assert len(diags) == 1001
    assert str(diags[-1]) == (
        f"{src}:1:1: error[too-many-errors]: 5 more problems not shown (the first 1000 are)"
    )


def test_rejects_in_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    src = tmp_path / "c.csv"
    src.write_text("id\nc1\n")
    with pytest.raises(UsageError, match="cannot write rejects"):
        read_contacts(src, SETTINGS, skip_invalid=True, rejects=tmp_path / "no" / "r.csv")
