"""`journeyctl db prune`: what goes, what stays, and that a pruned database goes on deciding
exactly as an unpruned copy of it does (no message twice, none lost)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from tests.builders import build_tree

_register()
runner = CliRunner()

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: test-only-unsubscribe-secret
channels:
  email: {type: file, path: outbox/, medium: email}
"""
# Ends a day after it starts: its rows may go once the cut-off is past its end.
WELCOME = """
sequence: welcome
trigger: {event: subscribed}
steps:
  - send: hello
    channel: email
    subject: "Hi"
    body: "hello"
  - wait: 1d
  - send: again
    channel: email
    subject: "Again"
    body: "again"
"""
# Still active at the cut-off: its first row must stay (its enrollment may step again).
SLOW = """
sequence: slow
trigger: {event: joined}
steps:
  - send: s1
    channel: email
    subject: "One"
    body: "one"
  - wait: 120d
  - send: s2
    channel: email
    subject: "Two"
    body: "two"
"""
CONTACTS = "id,email,name\nc1,c1@example.com,Kim\nc2,c2@example.com,Lee\n"
EVENTS = (
    "contact_id,event,at\n"
    "c1,subscribed,2026-01-05T10:00:00+09:00\n"
    "c2,joined,2026-01-05T10:00:00+09:00\n"
)


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    build_tree(
        tmp_path,
        {
            "p/journey.yaml": JOURNEY,
            "p/welcome.yaml": WELCOME,
            "p/slow.yaml": SLOW,
            "contacts.csv": CONTACTS,
            "events.csv": EVENTS,
        },
    )
    return tmp_path


def run(proj: Path, db: Path, now: str) -> None:
    r = runner.invoke(
        app,
        [
            "run", str(proj / "p"), "--db", str(db), "--now", now,
            "--contacts", str(proj / "contacts.csv"), "--events", str(proj / "events.csv"),
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr


def prune(db: Path, *args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, ["db", "prune", "--db", str(db), *args])
    return r.exit_code, r.stdout, r.stderr


def sent(proj: Path) -> list[tuple[str, str]]:
    f = proj / "p" / "outbox" / "email.jsonl"
    lines = f.read_text(encoding="utf-8").splitlines()
    return [(m["contact_id"], m["step"]) for m in map(json.loads, lines)]


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_prune_removes_ended_history_and_keeps_what_may_step_again(proj: Path) -> None:
    db = proj / "j.db"
    run(proj, db, "2026-01-05T10:05:00+09:00")  # hello, s1
    run(proj, db, "2026-01-06T10:05:00+09:00")  # again: welcome completes
    assert sent(proj) == [("c1", "hello"), ("c2", "s1"), ("c1", "again")]
    runs_before = rows(db, "SELECT count(*) FROM runs")[0][0]

    code, out, err = prune(
        db, "--before", "2026-03-01", "--now", "2026-04-10T00:00:00+09:00", "--dry-run",
        "--format", "json",
    )  # fmt: skip
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["dry_run"] is True
    assert doc["deleted"] == {"ledger": 2, "runs": runs_before - 1, "events": None}
    assert doc["kept"] == {"ledger_older": 1}
    assert rows(db, "SELECT count(*) FROM ledger")[0][0] == 3  # a dry run deletes nothing

    code, out, err = prune(
        db, "--before", "2026-03-01", "--now", "2026-04-10T00:00:00+09:00", "--events"
    )
    assert (code, err) == (0, "")
    assert "ledger  deleted 2 row(s); kept 1 older row(s)" in out
    assert "events  deleted 2 processed event(s)" in out
    assert rows(db, "SELECT contact_id, step, state FROM ledger") == [("c2", "s1", "sent")]
    assert len(rows(db, "SELECT id FROM runs")) == 1  # the latest
    # Enrollments are what `reentry` reads: never pruned.
    assert len(rows(db, "SELECT id FROM enrollments")) == 2


def test_a_pruned_database_decides_what_an_unpruned_copy_decides(proj: Path) -> None:
    """Pruned and unpruned copies run on side by side, re-importing the same events every
    time: the same messages are sent, none twice (the idempotency keys that could come again
    were all kept, and the enrollments `reentry` reads are there)."""
    db = proj / "j.db"
    run(proj, db, "2026-01-05T10:05:00+09:00")
    run(proj, db, "2026-01-06T10:05:00+09:00")
    other = proj / "other"
    shutil.copytree(proj / "p", other / "p")
    shutil.copy(proj / "contacts.csv", other)
    shutil.copy(proj / "events.csv", other)
    shutil.copy(db, other / "j.db")
    code, _, err = prune(
        db, "--before", "2026-03-01", "--now", "2026-04-10T00:00:00+09:00", "--events"
    )
    assert (code, err) == (0, "")
    for now in (
        "2026-04-10T10:00:00+09:00",
        "2026-05-05T10:05:00+09:00",
        "2026-05-06T10:05:00+09:00",
    ):
        run(proj, db, now)
        run(other, other / "j.db", now)
    assert sent(proj) == sent(other)
    assert sent(proj).count(("c2", "s2")) == 1
    assert sorted(sent(proj)) == sorted(set(sent(proj)))


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((), "give --before"),
        (("--before", "10d"), "less than 30 days before now"),
        (("--before", "next week"), "--before: 'next week' is not an ISO 8601 date"),
    ],
)
def test_bad_cutoffs_are_usage_errors(proj: Path, args: tuple[str, ...], needle: str) -> None:
    db = proj / "j.db"
    run(proj, db, "2026-01-05T10:05:00+09:00")
    code, out, err = prune(db, *args)
    assert code == 2 and out == ""
    assert needle in err


def test_a_frequency_cap_looking_back_further_moves_the_floor(proj: Path) -> None:
    journey = proj / "p" / "journey.yaml"
    journey.write_text(JOURNEY + "frequency_cap: {max: 2, per: 60d}\n", encoding="utf-8")
    db = proj / "j.db"
    run(proj, db, "2026-01-05T10:05:00+09:00")
    code, _, err = prune(db, str(proj / "p"), "--before", "45d")
    assert code == 2 and "less than 60 days before now" in err
    code, _, err = prune(db, str(proj / "p"), "--before", "61d")
    assert (code, err) == (0, "")


def test_a_missing_database_is_not_created(proj: Path) -> None:
    code, _, err = prune(proj / "nope.db", "--before", "90d")
    assert code == 2 and "does not exist" in err
    assert not (proj / "nope.db").exists()


def test_postgres_prunes_exactly_what_sqlite_prunes(proj: Path, pg_url: str) -> None:
    """The same state on both stores (moved with db migrate): the same counts, the same rows
    left, table by table."""
    import psycopg

    db = proj / "j.db"
    run(proj, db, "2026-01-05T10:05:00+09:00")
    run(proj, db, "2026-01-06T10:05:00+09:00")
    moved = runner.invoke(app, ["db", "migrate", "--from", str(db), "--to", pg_url])
    assert moved.exit_code == 0, moved.stderr
    args = ("--before", "2026-03-01", "--now", "2026-04-10T00:00:00+09:00", "--events")
    outs = []
    for target in (str(db), pg_url):
        r = runner.invoke(app, ["db", "prune", "--db", target, *args, "--format", "json"])
        assert r.exit_code == 0, r.stderr
        outs.append(json.loads(r.stdout))
    assert outs[0] == outs[1]
    assert outs[0]["deleted"]["ledger"] == 2
    with psycopg.connect(pg_url) as conn:
        for table, key in (("ledger", "key"), ("runs", "id"), ("events", "id")):
            q = f"SELECT {key} FROM {table} ORDER BY {key}"
            left = [tuple(r) for r in conn.execute(q).fetchall()]
            assert left == rows(db, q), table
