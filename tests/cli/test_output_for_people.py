"""Output a marketer can use (issue 17), as a user runs the commands: tables that fit 80
columns without cutting names (wrapped, or one block per row when they cannot fit), Hangul
measured as double width, times to the minute in tables (full precision in JSON), CSV with a
byte order mark when written for a spreadsheet, the run line per sequence, and report advice
that says when tracking data is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from tests.builders import build_tree

_register()

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: test-only-unsubscribe-secret
channels:
  email: {type: file, path: outbox/, medium: email}
"""
SEQ = """
sequence: {name}
trigger: {{event: subscribed}}
steps:
  - send: {step}
    channel: email
    subject: "{{{{ contact.name }}}}님, 장바구니에 담아두신 상품이 아직 기다리고 있어요"
    body: "hello"
"""
CONTACTS = "id,email,name\ncontact-0001,a@example.com,김민지\n"
EVENTS = "contact_id,event,at\ncontact-0001,subscribed,2026-11-02T10:00:43.564389+09:00\n"


def project(tmp_path: Path, name: str, step: str) -> Path:
    build_tree(tmp_path, {"p/journey.yaml": JOURNEY, f"p/{name}.yaml": SEQ.format(name=name, step=step),
                          "contacts.csv": CONTACTS, "events.csv": EVENTS})  # fmt: skip
    return tmp_path


def invoke(*args: str, columns: int = 80) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns), "NO_COLOR": "1"})
    return r.exit_code, r.stdout, r.stderr


def ran(tmp_path: Path) -> Path:
    db = tmp_path / "j.db"
    code, _, err = invoke("run", str(tmp_path / "p"), "--db", str(db), "--contacts",
                            str(tmp_path / "contacts.csv"), "--events", str(tmp_path / "events.csv"),
                            "--now", "2026-11-02T10:05:30.123456+09:00")  # fmt: skip
    assert code == 0, err
    return db


def widest(text: str) -> int:
    return max(cell_len(line) for line in text.splitlines())


def test_messages_fit_80_columns_with_names_whole_and_times_to_the_minute(tmp_path: Path) -> None:
    db = ran(project(tmp_path, "post-purchase-review", "ask-for-review"))
    code, out, _ = invoke("messages", "--db", str(db))
    assert code == 0
    assert "…" not in out and widest(out) <= 80
    for name in ("post-purchase-review", "ask-for-review", "contact-0001"):
        assert name in out  # never `seque…`, never folded
    assert "2026-11-02 10:00" in out and "10:00:43" not in out and ".564389" not in out
    assert "장바구니에" in out  # the subject wraps at words (Hangul counted double)
    code, out, _ = invoke("messages", "--db", str(db), "--format", "json")
    assert json.loads(out)[0]["at"] == "2026-11-02T10:00:43.564389+09:00"  # JSON: in full


def test_a_table_that_cannot_fit_turns_into_one_block_per_row(tmp_path: Path) -> None:
    long_name = "post-purchase-review-request-for-first-time-buyers"
    db = ran(project(tmp_path, long_name, "ask-for-a-review-three-days-after-delivery"))
    code, out, _ = invoke("messages", "--db", str(db))
    assert code == 0 and "…" not in out and widest(out) <= 80
    lines = out.splitlines()
    assert f"  sequence   {long_name}" in lines
    assert "  step       ask-for-a-review-three-days-after-delivery" in lines
    code, wide, _ = invoke("messages", "--db", str(db), columns=200)
    assert "┃ at" in wide  # the grid where it fits


def test_status_and_simulate_fit_80_columns(tmp_path: Path) -> None:
    d = project(tmp_path, "post-purchase-review-request-for-first-time-buyers", "ask")
    db = ran(d)
    for args in (["status", "--db", str(db)],
                 ["simulate", str(d / "p"), "--contacts", str(d / "contacts.csv"), "--events",
                  str(d / "events.csv"), "--start", "2026-11-01", "--days", "3"]):  # fmt: skip
        code, out, err = invoke(*args)
        assert code == 0, err
        assert "…" not in out and widest(out) <= 80, out
        assert "post-purchase-review-request-for-first-time-buyers" in out


def test_csv_for_a_spreadsheet_starts_with_a_bom(tmp_path: Path) -> None:
    d = project(tmp_path, "welcome", "hello")
    db = ran(d)
    target = tmp_path / "report.csv"
    code, out, _ = invoke("report", str(d / "p"), "--db", str(db), "--out", str(target))
    assert (code, out) == (0, "")
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfsequence,step,")  # --out F.csv: CSV, with the BOM
    code, out, _ = invoke("report", str(d / "p"), "--db", str(db), "--format", "csv")
    assert out.startswith("sequence,step,")  # a pipe gets no BOM
    code, out, _ = invoke("report", str(d / "p"), "--db", str(db), "--format", "csv", "--excel")
    assert out.startswith("\ufeffsequence,step,")
    code, _, _ = invoke("report", str(d / "p"), "--db", str(db), "--out", str(target),
                        "--no-excel")  # fmt: skip
    assert target.read_bytes().startswith(b"sequence,step,")


@pytest.mark.parametrize("with_opens", [False, True])
def test_report_says_when_open_tracking_data_is_missing(tmp_path: Path, with_opens: bool) -> None:
    build_tree(tmp_path, {"p/journey.yaml": JOURNEY + "report: {min_recipients: 1}\n",
                          "p/welcome.yaml": SEQ.format(name="welcome", step="hello")})  # fmt: skip
    contacts = "id,email,name\n" + "".join(f"c{i},c{i}@example.com,K\n" for i in range(10))
    events = "contact_id,event,at\n" + "".join(
        f"c{i},subscribed,2026-11-02T10:00:00+09:00\n" for i in range(10)
    )
    if with_opens:  # one open in ten: measured, and low
        events += "c0,opened,2026-11-02T11:00:00+09:00\n"
    build_tree(tmp_path, {"contacts.csv": contacts, "events.csv": events})
    db = ran(tmp_path)
    if with_opens:
        code, _, err = invoke("events", "import", str(tmp_path / "p"), str(tmp_path / "events.csv"),
                              "--db", str(db), "--now", "2026-11-02T12:00:00+09:00")  # fmt: skip
        assert code == 0, err
    code, out, _ = invoke("report", str(tmp_path / "p"), "--db", str(db))
    assert code == 0
    out = " ".join(out.split())  # advice wraps to the 80 columns
    if with_opens:
        assert "rework the subject line" in out and "no open tracking data" not in out
    else:
        assert "advice: no open tracking data" in out and "rework the subject" not in out
        assert "no click tracking data" in out and "rework the call to action" not in out


def test_run_breaks_the_tick_down_per_sequence(tmp_path: Path) -> None:
    d = project(tmp_path, "welcome", "hello")
    build_tree(d, {"p/second.yaml": SEQ.format(name="second", step="hi")})
    code, out, err = invoke("run", str(d / "p"), "--db", str(d / "j.db"), "--contacts",
                            str(d / "contacts.csv"), "--events", str(d / "events.csv"),
                            "--now", "2026-11-02T10:05:00+09:00", "--format", "json")  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["sequences"] == {
        "second": {"decided": 1, "skipped": 0, "delivered": 1, "failed": 0},
        "welcome": {"decided": 1, "skipped": 0, "delivered": 1, "failed": 0},
    }
