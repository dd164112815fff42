"""Hostile contacts and events files (issue 14): each case gives a located error
(`file:line:col`) or the correct result, through the readers and through the CLI as a user runs
it; never a traceback, a hang or a partial import. Decisions in docs/data.md ("Hostile input").
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from journeyctl.data import decode
from journeyctl.data.contacts import read_again, read_contacts
from journeyctl.data.events import read_events
from journeyctl.data.result import ChangedWhileReading, InvalidRows
from journeyctl.errors import DataError
from journeyctl.reporting import csvsafe
from journeyctl.spec.models import ProjectSettings

_register()
runner = CliRunner()

SETTINGS = ProjectSettings(
    timezone="Asia/Seoul",
    contacts={"fields": {"orders": "int", "score": "float", "signup_at": "datetime"}},  # type: ignore[arg-type]
)

JOURNEY = """\
timezone: Asia/Seoul
unsubscribe_secret: test-only-unsubscribe-secret
channels:
  email: {type: file, path: outbox/, medium: email}
contacts:
  fields: {orders: int, score: float, signup_at: datetime}
"""

WELCOME = """\
sequence: welcome
trigger: {event: subscribed}
steps:
  - send: hello
    channel: email
    subject: "Hi"
    body: "hello"
"""


def write(tmp_path: Path, data: bytes | str, name: str = "contacts.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def errors(path: Path, reader=read_contacts) -> list[str]:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError) as exc:
        reader(path, SETTINGS)
    return [str(d) for d in exc.value.diagnostics if d.is_error]


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    p = tmp_path / "p"
    p.mkdir()
    (p / "journey.yaml").write_text(JOURNEY, encoding="utf-8")
    (p / "welcome.yaml").write_text(WELCOME, encoding="utf-8")
    return p


def cli_import(proj: Path, src: Path, *extra: str) -> tuple[int, str, str]:
    db = str(proj.parent / "j.db")
    args = ["contacts", "import", str(src), "--db", db, "--project", str(proj)]
    r = runner.invoke(app, [*args, "--now", "2026-03-01T09:00:00+09:00", *extra])
    assert "Traceback" not in r.stdout + r.stderr
    assert r.exit_code != 3, r.stderr  # never an internal error
    return r.exit_code, r.stdout, r.stderr


def stored(proj: Path) -> list[tuple[object, ...]]:
    db = proj.parent / "j.db"
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT id, email, phone, name, attrs FROM contacts ORDER BY id"
        ).fetchall()
    finally:
        conn.close()


# --- bytes that are not text -----------------------------------------------------------------


def test_nul_byte_in_a_cell_is_located_not_imported(tmp_path: Path) -> None:
    p = write(tmp_path, b"id,email,name\nc1,a@example.com,Kim\nc2\x00,b@example.com,Lee\n")
    assert errors(p) == [
        f"{p}:3:1: error[bad-encoding]: a NUL byte (0x00): this is not text in the file's encoding"
    ]


def test_nul_byte_in_a_name_through_the_cli_imports_nothing(proj: Path, tmp_path: Path) -> None:
    src = write(tmp_path, b"id,email,name\nc1,a@example.com,Kim\nc2,b@example.com,L\x00ee\n")
    code, _, err = cli_import(proj, src)
    assert code == 1
    assert f"{src}:3:3: error[bad-encoding]" in err
    assert stored(proj) == []


def test_a_10_mb_field_stops_the_read_located_even_with_skip_invalid(tmp_path: Path) -> None:
    p = write(tmp_path, b"id,name\nc1,ok\nc2," + b"x" * 10_000_000 + b"\nc3,ok\n")
    for skip in (False, True):
        with pytest.raises(InvalidRows) as exc:
            read_contacts(p, SETTINGS, skip_invalid=skip, rejects=tmp_path / "r.csv")
        assert exc.value.fatal
        (d,) = [d for d in exc.value.diagnostics if d.is_error]
        assert (d.location.line, d.location.col, d.code) == (3, 2, "bad-row")
        assert "field larger than field limit (131072)" in d.message
        assert "unclosed quote" in (d.hint or "")
    assert not (tmp_path / "r.csv").exists()  # never half-written


def test_ragged_rows_are_located_and_skippable(tmp_path: Path) -> None:
    p = write(
        tmp_path, "id,email,name\nc1,a@example.com\nc2,b@example.com,Lee,extra\nc3\nc4,,Park,,\n"
    )
    assert errors(p) == [
        f"{p}:2:3: error[bad-row]: the row has 2 fields but the header has 3",
        f"{p}:3:4: error[bad-row]: the row has 4 fields but the header has 3",
        f"{p}:4:2: error[bad-row]: the row has 1 fields but the header has 3",
    ]
    result = read_contacts(p, SETTINGS, skip_invalid=True, rejects=tmp_path / "r.csv")
    assert [c.id for c in result.items] == ["c4"]  # empty trailing cells are fine
    assert result.rejected == 3


# --- encodings ---------------------------------------------------------------------------------


def excel_unicode_text(rows: list[list[str]]) -> bytes:
    """What Excel's "Unicode text" writes: UTF-16LE with a BOM, tab-separated, CRLF."""
    return "".join("\t".join(r) + "\r\n" for r in rows).encode("utf-16")


def test_excel_unicode_text_utf16_is_read_correctly(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        excel_unicode_text(
            [
                ["id", "email", "name", "orders"],
                ["c1", "kim@example.com", "김철수", "3"],
                ["c2", "lee@example.com", "이, 영희", "1,234"],
            ]
        ),
    )
    assert p.read_bytes()[:2] == b"\xff\xfe"
    result = read_contacts(p, SETTINGS)
    assert [(c.id, c.email, c.name, c.attrs["orders"]) for c in result.items] == [
        ("c1", "kim@example.com", "김철수", 3),
        ("c2", "lee@example.com", "이, 영희", 1234),
    ]


def test_utf16_errors_are_located_on_their_row(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        excel_unicode_text([["id", "orders"], ["c1", "3"], ["c2", "많이"], ["c3", "4"]]),
    )
    assert errors(p) == [f"{p}:3:2: error[bad-int]: column orders: '많이' is not an int"]


def test_utf16_without_bom_is_detected(tmp_path: Path) -> None:
    p = write(tmp_path, "id\temail\r\nc1\tkim@example.com\r\n".encode("utf-16-le"))
    assert [c.email for c in read_contacts(p, SETTINGS).items] == ["kim@example.com"]


def test_utf16_events_file(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        excel_unicode_text(
            [["contact_id", "event", "at"], ["c1", "purchased", "2026-03-01 09:00"]]
        ),
        "events.csv",
    )
    (ev,) = read_events(p, SETTINGS).items
    assert (ev.contact_id, ev.name, ev.at) == (
        "c1",
        "purchased",
        datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
    )


def test_utf16_through_the_cli(proj: Path, tmp_path: Path) -> None:
    src = write(tmp_path, excel_unicode_text([["id", "name"], ["c1", "김철수"]]))
    code, out, err = cli_import(proj, src)
    assert (code, out) == (0, "imported 1 contact(s): 1 new\n"), err
    assert stored(proj)[0][:4] == ("c1", None, None, "김철수")


def utf8_with_one_cp949_row(n: int, bad: int) -> bytes:
    rows = [f"c{i},김철수{i}\n".encode() for i in range(1, n + 1)]
    rows[bad - 1] = f"c{bad},이영희\n".encode("cp949")
    return b"id,name\n" + b"".join(rows)


@pytest.mark.parametrize(("n", "bad"), [(5, 3), (200, 100), (20_000, 15_000)])
def test_one_cp949_row_in_a_utf8_file_is_blamed_on_that_row(
    tmp_path: Path, n: int, bad: int
) -> None:
    p = write(tmp_path, utf8_with_one_cp949_row(n, bad))
    (e,) = errors(p)
    assert e.startswith(f"{p}:{bad + 1}:2: error[bad-encoding]: byte 0xC0 is not valid utf-8")
    with pytest.raises(DataError) as exc:
        read_contacts(p, SETTINGS)
    (d,) = [d for d in exc.value.diagnostics if d.is_error]
    assert "retype it or re-save the file" in (d.hint or "")


def test_a_cp949_file_is_still_cp949(tmp_path: Path) -> None:
    p = write(tmp_path, "id,name\nc1,김철수\nc2,똠방각하\n".encode("cp949"))
    assert decode.resolve_encoding(p, None) == "cp949"
    assert [c.name for c in read_contacts(p, SETTINGS).items] == ["김철수", "똠방각하"]


def test_mixed_line_endings_keep_physical_line_numbers(tmp_path: Path) -> None:
    p = write(tmp_path, b"id,orders\r\nc1,1\nc2,2\rc3,x\r\nc4,4\nc5,y\r")
    assert errors(p) == [
        f"{p}:4:2: error[bad-int]: column orders: 'x' is not an int",
        f"{p}:6:2: error[bad-int]: column orders: 'y' is not an int",
    ]
    good = write(tmp_path, b"id,orders\r\nc1,1\nc2,2\rc3,3\r\n", "good.csv")
    assert [c.attrs["orders"] for c in read_contacts(good, SETTINGS).items] == [1, 2, 3]


# --- values -----------------------------------------------------------------------------------


def test_emails_differing_only_in_case_are_two_contacts_kept_as_written(tmp_path: Path) -> None:
    p = write(tmp_path, "id,email\nc1,Kim@Example.com\nc2,kim@example.com\n")
    assert [(c.id, c.email) for c in read_contacts(p, SETTINGS).items] == [
        ("c1", "Kim@Example.com"),
        ("c2", "kim@example.com"),
    ]


def test_idn_domains_are_kept_as_written_and_a_domain_with_no_punycode_is_refused(
    tmp_path: Path,
) -> None:
    p = write(tmp_path, "id,email\nc1,kim@예시.한국\nc2,kim@xn--9n2bp8q.xn--3e0b707e\n")
    assert [c.email for c in read_contacts(p, SETTINGS).items] == [
        "kim@예시.한국",
        "kim@xn--9n2bp8q.xn--3e0b707e",
    ]
    bad = write(tmp_path, "id,email\nc1,kim@예시..한국\nc2,kim@" + "가" * 70 + ".kr\n", "bad.csv")
    assert [e.split(": error")[1][:12] for e in errors(bad)] == ["[bad-email]:"] * 2
    assert [e.split(": error")[0] for e in errors(bad)] == [f"{bad}:2:2", f"{bad}:3:2"]


def test_timestamps_without_offsets_are_in_the_project_timezone(tmp_path: Path) -> None:
    c = write(tmp_path, "id,signup_at\nc1,2026-03-01 09:00\nc2,2026/03/01 9:00\n")
    assert [x.attrs["signup_at"] for x in read_contacts(c, SETTINGS).items] == [
        datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    ] * 2
    e = write(tmp_path, '{"contact_id": "c1", "event": "e", "at": "2026-03-01T09:00"}\n', "e.jsonl")
    assert read_events(e, SETTINGS).items[0].at == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def test_year_9999_is_refused_located(tmp_path: Path) -> None:
    p = write(tmp_path, "id,signup_at\nc1,9999-12-31T23:59:59\n")
    (e,) = errors(p)
    assert e.startswith(f"{p}:2:2: error[bad-datetime]: column signup_at: '9999-12-31T23:59:59'")


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-Infinity", "1e400"])
def test_nan_and_inf_in_a_float_column_are_refused_located(tmp_path: Path, text: str) -> None:
    p = write(tmp_path, f"id,score\nc1,1.5\nc2,{text}\n")
    assert errors(p) == [f"{p}:3:2: error[bad-float]: column score: {text!r} is not a float"]


@pytest.mark.parametrize(
    ("value", "col"), [("NaN", 23), ("Infinity", 23), ("-Infinity", 23), ("1e400", 23)]
)
def test_nan_and_inf_in_jsonl_are_refused_located(tmp_path: Path, value: str, col: int) -> None:
    p = write(tmp_path, f'{{"id": "c1", "score": {value}}}\n', "contacts.jsonl")
    (e,) = errors(p)
    assert e.startswith(f"{p}:1:{col}: error[bad-json]: not a number journeyctl can keep")
    ev = write(
        tmp_path,
        f'{{"contact_id": "c1", "event": "e", "at": "2026-03-01", "amount": {value}}}\n',
        "events.jsonl",
    )
    (e,) = errors(ev, read_events)
    assert ":1:" in e and "error[bad-json]: not a number journeyctl can keep" in e


@pytest.mark.parametrize(
    ("column", "text"), [("orders", "１２３"), ("orders", "١٢٣"), ("score", "１２.５")]
)
def test_full_width_digits_are_refused_located_with_a_way_out(
    tmp_path: Path, column: str, text: str
) -> None:
    p = write(tmp_path, f"id,{column}\nc1,1\nc2,{text}\n")
    kind = "int" if column == "orders" else "float"
    with pytest.raises(DataError) as exc:
        read_contacts(p, SETTINGS)
    (d,) = [d for d in exc.value.diagnostics if d.is_error]
    noun = "an int" if kind == "int" else "a float"
    assert str(d) == (
        f"{p}:3:2: error[bad-{kind}]: column {column}: {text!r} is not {noun}:"
        " its digits are not 0-9 (full-width digits?)"
    )
    assert "=ASC(" in (d.hint or "")


# --- JSON Lines nested deep ----------------------------------------------------------------------


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_jsonl_nested_deep_is_a_located_error(tmp_path: Path, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    c = write(tmp_path, f'{{"id": "c0"}}\n{{"id": "c1", "x": {nested}}}\n', "contacts.jsonl")
    assert errors(c) == [f"{c}:2:1: error[bad-json]: a value is nested too deeply to read"]
    out = tmp_path / "contacts.rejects.jsonl"
    result = read_contacts(c, SETTINGS, skip_invalid=True, rejects=out)
    assert [x.id for x in result.items] == ["c0"]
    assert out.read_text(encoding="utf-8").count("\n") == 1  # the line kept as text
    e = write(
        tmp_path,
        f'{{"contact_id": "c1", "event": "e", "at": "2026-03-01", "p": {nested}}}\n',
        "events.jsonl",
    )
    assert errors(e, read_events) == [
        f"{e}:1:1: error[bad-json]: a value is nested too deeply to read"
    ]


def test_jsonl_nested_deep_through_the_cli(proj: Path, tmp_path: Path) -> None:
    src = write(
        tmp_path, '{"id": "c1", "x": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}\n", "c.jsonl"
    )
    code, _, err = cli_import(proj, src)
    assert code == 1
    assert f"{src}:1:1: error[bad-json]: a value is nested too deeply to read" in err
    assert stored(proj) == []


# --- formula cells and terminal controls -----------------------------------------------------------


FORMULAS = ['=HYPERLINK("http://evil","x")', "+82 10-1234-5678", "-2+3", "@SUM(A1)", "\tx"]


def test_rejects_file_neutralises_formula_cells_and_reimports_as_written(
    proj: Path, tmp_path: Path
) -> None:
    rows = [["id", "email", "phone", "name", "=cmd|' /C calc'!A0"]]
    rows.append(["c1", "ok@example.com", "+82 10-1234-5678", "Kim", "x"])
    rows.append(["c2", "not-an-address", "+82 10-0000-0000", FORMULAS[0], "=1+1"])
    rows.append(["c3", "also bad", "010", "@SUM(A1)", "-2+3"])
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    src = write(tmp_path, buf.getvalue())
    code, _, err = cli_import(proj, src, "--skip-invalid")
    assert code == 0, err
    rejects = tmp_path / "contacts.rejects.csv"
    assert rejects.read_bytes().startswith(b"\xef\xbb\xbf")
    written = list(csv.reader(io.StringIO(rejects.read_text(encoding="utf-8-sig"))))
    for row in written:
        for cell in row:
            assert cell == csvsafe.cell(cell) or cell.startswith("'"), cell
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
    assert written[0][4] == "'=cmd|' /C calc'!A0"
    assert written[1][:5] == [
        "c2",
        "not-an-address",
        "'+82 10-0000-0000",
        "'" + FORMULAS[0],
        "'=1+1",
    ]
    # The quote is journeyctl's, not the data's: fixed and imported again, the values come back.
    written[1][1] = "lee@example.com"
    written[2][1] = "park@example.com"
    again = io.StringIO()
    csv.writer(again).writerows([r[:5] for r in written])
    fixed = write(tmp_path, again.getvalue(), "fixed.csv")
    result = read_contacts(fixed, SETTINGS)
    assert [(c.id, c.phone, c.name, c.attrs["=cmd|' /C calc'!A0"]) for c in result.items] == [
        ("c2", "+821000000000", FORMULAS[0], "=1+1"),
        ("c3", "010", "@SUM(A1)", "-2+3"),
    ]


ESC = "\x1b]0;pwned\x07\x1b[31mKim\x9b"


def test_terminal_controls_in_contact_data_are_escaped_in_diagnostics(
    proj: Path, tmp_path: Path
) -> None:
    src = write(tmp_path, f"id,email,name,x{ESC}\nc1,bad-address,{ESC},1\n")
    for args in (
        ["validate", str(proj), "--contacts", str(src)],
        ["contacts", "import", str(src), "--db", str(tmp_path / "j.db"), "--project", str(proj)],
    ):
        r = runner.invoke(app, args)
        text = r.stdout + r.stderr
        assert f"{src}:2:2: error[bad-email]" in text, text
        assert "\\x1b]0;pwned\\x07\\x1b[31mKim\\x9b" in text  # the echoed row, escaped
        assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    jsonl = write(tmp_path, '{"id": "c1", "k\\u001b]0;x\\u0007": [1]}\n', "c.jsonl")
    r = runner.invoke(app, ["contacts", "import", str(jsonl), "--db", str(tmp_path / "j.db"),
                            "--project", str(proj), "--skip-invalid"])  # fmt: skip
    assert "k\\x1b]0;x\\x07: expected a single value" in r.stderr
    assert "\x1b" not in r.stdout + r.stderr


# --- streamed import, all or nothing -------------------------------------------------------------


def test_import_streams_a_file_checked_first_and_refuses_one_that_changed(tmp_path: Path) -> None:
    p = write(tmp_path, "id,orders\nc1,1\nc2,x\nc3,3\n")
    first = read_contacts(p, SETTINGS, skip_invalid=True, rejects=tmp_path / "r.csv", keep=False)
    assert (first.items, first.rows, first.rejected) == ([], 2, 1)
    assert [c.id for c in read_again(p, SETTINGS, first)] == ["c1", "c3"]
    for changed in ("id,orders\nc1,1\nc2,x\nc3,y\n", "id,orders\nc1,1\nc2,x\nc3,3\nc4,4\n"):
        p.write_text(changed, encoding="utf-8")
        with pytest.raises(ChangedWhileReading):
            list(read_again(p, SETTINGS, first))


def test_contacts_import_of_a_bad_file_touches_no_database(proj: Path, tmp_path: Path) -> None:
    src = write(tmp_path, "id,orders\nc1,1\nc2,１\n")
    code, _, err = cli_import(proj, src)
    assert code == 1 and f"{src}:3:2: error[bad-int]" in err
    assert not (proj.parent / "j.db").exists()


def test_contacts_import_rolls_back_when_the_file_changes_under_it(
    proj: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write(tmp_path, "id,orders\nc1,1\nc2,2\n")
    assert cli_import(proj, src)[0] == 0
    before = stored(proj)
    src.write_text("id,orders\nc1,10\nc2,20\nc3,30\n", encoding="utf-8")
    import journeyctl.data.contacts as contacts

    real = contacts.read_again

    def edited_between_the_passes(path, settings, first, **kw):  # type: ignore[no-untyped-def]
        src.write_text("id,orders\nc1,10\nc2,20\nc3,x\n", encoding="utf-8")
        return real(path, settings, first, **kw)

    monkeypatch.setattr(contacts, "read_again", edited_between_the_passes)
    code, _, err = cli_import(proj, src)
    assert code == 1 and "changed while it was being imported; nothing imported" in err
    assert stored(proj) == before  # c1 kept its old value: one transaction, rolled back


def test_user_run_of_hostile_files_never_tracebacks(proj: Path, tmp_path: Path) -> None:
    """As a user runs it: `python -m journeyctl`, each hostile file, exit 0 or 1, no trace."""
    files = {
        "nul.csv": b"id,name\nc1,a\x00b\n",
        "utf16.csv": excel_unicode_text([["id", "name"], ["c1", "김"]]),
        "deep.jsonl": b'{"id": "c1", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
        "nan.jsonl": b'{"id": "c1", "score": NaN}\n',
        "cp949row.csv": utf8_with_one_cp949_row(50, 20),
        "fullwidth.csv": "id,orders\nc1,１２\n".encode(),
        "esc.csv": f"id,email\nc1,{ESC}\n".encode(),
    }
    for name, data in files.items():
        src = write(tmp_path, data, name)
        for args in (
            ["validate", str(proj), "--contacts", str(src)],
            ["contacts", "import", str(src), "--db", str(tmp_path / f"{name}.db"),
             "--project", str(proj)],
        ):  # fmt: skip
            proc = subprocess.run(
                [sys.executable, "-m", "journeyctl", *args],
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, "NO_COLOR": "1"},
            )
            text = proc.stdout + proc.stderr
            assert proc.returncode in (0, 1), (name, args[0], text)
            assert "Traceback" not in text and "internal error" not in text, (name, text)
            assert "\x1b" not in text, name
            if name != "utf16.csv":
                assert proc.returncode == 1 and f"{src}:" in text, (name, text)
        if name != "utf16.csv":
            assert not (tmp_path / f"{name}.db").exists(), name


def test_utf16_events_of_an_unknown_contact_are_located(proj: Path, tmp_path: Path) -> None:
    src = write(
        tmp_path,
        excel_unicode_text(
            [["contact_id", "event", "at"], ["c9", "purchased", "2026-03-01 09:00"]]
        ),
        "events.csv",
    )
    db = str(tmp_path / "j.db")
    r = runner.invoke(app, ["events", "import", str(src), "--db", db, "--project", str(proj)])
    assert r.exit_code == 1
    assert f"{src}:2:1: error[unknown-contact]" in r.stderr


WIDE = 100_000  # columns or keys: a check quadratic in them would take minutes, not a second


def test_a_header_of_100k_columns_reads_and_a_duplicate_is_located(tmp_path: Path) -> None:
    names = [f"a{i}" for i in range(WIDE)]
    p = write(tmp_path, "id," + ",".join(names) + "\nc1" + ",1" * WIDE + "\n")
    (c,) = read_contacts(p, SETTINGS).items
    assert len(c.attrs) == WIDE + 3 and c.attrs[f"a{WIDE - 1}"] == "1"
    names[-1] = "a7"
    dup = write(tmp_path, "id," + ",".join(names) + "\nc1\n", "dup.csv")
    assert errors(dup) == [
        f"{dup}:1:{WIDE + 1}: error[duplicate-column]: column 'a7' appears twice (also column 9)"
    ]


def test_a_jsonl_line_of_100k_bad_keys_is_located_key_by_key(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        '{"id": "c1", ' + ", ".join(f'"a{i}": [1]' for i in range(WIDE)) + "}\n",
        "contacts.jsonl",
    )
    with pytest.raises(DataError) as exc:
        read_contacts(p, SETTINGS)
    located = [d for d in exc.value.diagnostics if d.code == "bad-json"]
    assert len(located) == 1000  # the first 1000 kept, the rest counted
    assert located[1].location.col == p.read_text().index('"a1"') + 1
    assert exc.value.diagnostics[-1].code == "too-many-errors"


def test_a_nul_escaped_in_jsonl_is_refused_like_a_nul_in_csv(tmp_path: Path) -> None:
    p = write(tmp_path, '{"id": "c1"}\n{"id": "c2", "name": "K\\u0000im"}\n', "contacts.jsonl")
    assert errors(p) == [
        f"{p}:2:24: error[bad-encoding]: a NUL byte (0x00): this is not text in the file's encoding"
    ]


def test_an_unclosed_quote_swallowing_the_file_stops_at_its_record(tmp_path: Path) -> None:
    p = write(tmp_path, 'id,name,note\nc1,Kim,ok\nc2,Lee,"unclosed\n' + "c3,Park,x\n" * 20_000)
    (e,) = errors(p)
    assert e == (
        f"{p}:3:1: error[bad-row]: malformed CSV in the record starting here:"
        " field larger than field limit (131072)"
    )
    one_line = write(tmp_path, 'id,name,note\nc1,Kim,"a,' + "b" * 200_000 + '"\n', "one.csv")
    assert errors(one_line)[0].startswith(f"{one_line}:2:3: error[bad-row]")
