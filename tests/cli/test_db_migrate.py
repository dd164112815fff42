"""`journeyctl db migrate`: a live SQLite state into PostgreSQL and back, verified by counts
and checksums; the state goes on there exactly as it would have on SQLite."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from journeyctl.store.lock import run_lock
from journeyctl.store.transfer import TABLES
from tests.builders import build_tree

_register()
runner = CliRunner()

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: test-only-unsubscribe-secret
frequency_cap: {max: 2, per: 1d}
channels:
  email: {type: file, path: outbox/, medium: email}
"""
WELCOME = """
sequence: welcome
trigger: {event: subscribed}
steps:
  - send: hello
    channel: email
    subject: "Hi {{ contact.name }}"
    body: "hello"
  - wait: 1d
  - branch:
      if: "clicked('hello')"
      then:
        - send: thanks
          channel: email
          subject: "Thanks"
          body: "thanks"
      else:
        - send: nudge
          channel: email
          subject: "Nudge"
          body: "nudge"
  - wait: 3d
  - send: last
    channel: email
    subject: "Last"
    body: "last"
"""


def _contacts(n: int) -> str:
    rows = [f"c{i:04d},c{i:04d}@example.com,이름 {i},Asia/Seoul,{i % 2 == 0}" for i in range(n)]
    return "id,email,name,timezone,vip\n" + "\n".join(rows) + "\n"


def _events(n: int) -> str:
    rows = [f"c{i:04d},subscribed,2026-11-02T10:00:00+09:00" for i in range(n)]
    rows += [f"c{i:04d},clicked,2026-11-02T12:00:00+09:00" for i in range(0, n, 3)]
    return "contact_id,event,at\n" + "\n".join(rows) + "\n"


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A SQLite state mid-way: active enrollments, sent messages, runs, meta."""
    build_tree(
        tmp_path,
        {
            "p/journey.yaml": JOURNEY,
            "p/welcome.yaml": WELCOME,
            "contacts.csv": _contacts(300),
            "events.csv": _events(300),
        },
    )
    for now in ("2026-11-02T10:05:00+09:00", "2026-11-03T10:05:00+09:00"):
        run(tmp_path, str(tmp_path / "j.db"), now)
    return tmp_path


def run(proj: Path, db: str, now: str) -> None:
    r = runner.invoke(
        app,
        [
            "run", str(proj / "p"), "--db", db, "--now", now,
            "--contacts", str(proj / "contacts.csv"), "--events", str(proj / "events.csv"),
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr


def migrate(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, ["db", "migrate", *args])
    return r.exit_code, r.stdout, r.stderr


def outbox(proj: Path) -> list[tuple[str, str]]:
    lines = (proj / "p" / "outbox" / "email.jsonl").read_text(encoding="utf-8").splitlines()
    return [(m["contact_id"], m["step"]) for m in map(json.loads, lines)]


def _rows(conn: Any, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_sqlite_to_postgres_copies_every_row_and_checks_it(state: Path, pg_url: str) -> None:
    db = state / "j.db"
    code, out, err = migrate("--from", str(db), "--to", pg_url, "--format", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["ok"] is True and doc["replaced"] == {}
    assert "@" not in doc["to"] or "***" in doc["to"]  # never the password
    tables = {t["table"]: t for t in doc["tables"]}
    assert list(tables) == list(TABLES)
    src = sqlite3.connect(db)
    for name, t in tables.items():
        assert t["source_rows"] == t["target_rows"] == _rows(src, name)
        assert t["source_checksum"] == t["target_checksum"]
    src.close()
    assert tables["ledger"]["target_rows"] > 300 and tables["enrollments"]["target_rows"] == 300


def test_the_state_goes_on_in_postgres_as_it_would_have_in_sqlite(state: Path, pg_url: str) -> None:
    """Migrate, then run the same later ticks on the SQLite file and on PostgreSQL: the same
    messages go out, none again (the ledger's keys and the enrollments came along)."""
    other = state / "other"
    shutil.copytree(state / "p", other / "p")
    for f in ("contacts.csv", "events.csv", "j.db"):
        shutil.copy(state / f, other / f)
    code, _, err = migrate("--from", str(state / "j.db"), "--to", pg_url)
    assert (code, err) == (0, "")
    before = len(outbox(state))
    for now in ("2026-11-06T10:05:00+09:00", "2026-11-07T10:05:00+09:00"):
        run(state, pg_url, now)
        run(other, str(other / "j.db"), now)
    assert outbox(state) == outbox(other)
    assert len(outbox(state)) == before + 300  # each contact's `last`, once
    assert len(set(outbox(state))) == len(outbox(state))


def test_a_non_empty_target_is_refused_unless_replaced(state: Path, pg_url: str) -> None:
    db = str(state / "j.db")
    assert migrate("--from", db, "--to", pg_url)[0] == 0
    code, out, err = migrate("--from", db, "--to", pg_url)
    assert code == 1 and out == ""
    assert "already holds a state (contacts 300" in err and "--replace" in err
    code, out, err = migrate("--from", db, "--to", pg_url, "--replace", "--format", "json")
    assert (code, err) == (0, "")
    assert json.loads(out)["replaced"]["contacts"] == 300


def test_and_back_from_postgres_to_sqlite(state: Path, pg_url: str) -> None:
    db = str(state / "j.db")
    assert migrate("--from", db, "--to", pg_url)[0] == 0
    back = state / "back.db"
    code, out, err = migrate("--from", pg_url, "--to", str(back))
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "row counts and checksums match on both sides"
    a, b = sqlite3.connect(db), sqlite3.connect(back)
    for table in TABLES:
        q = f"SELECT * FROM {table} ORDER BY 1"
        assert a.execute(q).fetchall() == b.execute(q).fetchall(), table
    a.close()
    b.close()


def test_a_run_holding_the_lock_is_refused(state: Path, pg_url: str) -> None:
    db = state / "j.db"
    with run_lock(db):
        code, _, err = migrate("--from", str(db), "--to", pg_url)
    assert code == 1
    assert "a run holds the lock on the source" in err


def test_bad_arguments_are_usage_errors(state: Path) -> None:
    assert migrate("--to", "x.db")[0] == 2
    code, _, err = migrate("--from", str(state / "nope.db"), "--to", "postgresql://h/db")
    assert code == 2 and "nope.db does not exist" in err
    code, _, err = migrate("--from", str(state / "j.db"), "--to", str(state / "k.db"))
    assert code == 2 and "both SQLite files" in err
