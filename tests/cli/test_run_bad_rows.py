"""Imports that degrade gracefully (issue 13, item 2), through the CLI on real SQLite files.

A run whose contacts file has bad rows imports the good ones with --skip-invalid and counts the
rest loudly; without it the file is held back whole, but the tick still delivers what the
database already has due. A repeated single-value option is a usage error.
"""

from __future__ import annotations

import json
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
unsubscribe_secret: test-only-unsubscribe-secret  # `run` refuses to start without one
channels:
  email: {type: file, path: outbox/, medium: email}
contacts:
  fields: {orders: int}
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
  - send: again
    channel: email
    subject: "Again"
    body: "again"
"""

ORDERS = """
sequence: orders
trigger: {event: purchased}
reentry: always
ad: false
transactional: true
steps:
  - send: order-confirmed
    channel: email
    subject: "Order received, {{ contact.name }}"
    body: "thanks"
"""

BAD = {4, 7, 11, 15, 18}  # 5 bad rows of 20


def _contacts(n: int = 20, bad: set[int] = BAD) -> str:
    rows = ["id,email,name,orders"]
    for i in range(1, n + 1):
        if i in bad:
            # a bad int or a bad email: both located errors
            rows.append(f"c{i:02},c{i}@example.com,N{i},many" if i % 2 else f"c{i:02},nope,N{i},1")
        else:
            rows.append(f"c{i:02},c{i}@example.com,N{i},{i}")
    return "\n".join(rows) + "\n"


def _events(n: int = 20, at: str = "2026-11-02T10:00:00+09:00") -> str:
    return "contact_id,event,at\n" + "".join(f"c{i:02},subscribed,{at}\n" for i in range(1, n + 1))


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    build_tree(tmp_path, {"p/journey.yaml": JOURNEY, "p/welcome.yaml": WELCOME})
    (tmp_path / "p" / "orders.yaml").write_text(ORDERS, encoding="utf-8")
    return tmp_path


def run(proj: Path, *args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, ["run", str(proj / "p"), "--db", str(proj / "j.db"), *args])
    return r.exit_code, r.stdout, r.stderr


def outbox(proj: Path) -> list[tuple[str, str]]:
    f = proj / "p" / "outbox" / "email.jsonl"
    if not f.exists():
        return []
    rows = [json.loads(x) for x in f.read_text(encoding="utf-8").splitlines()]
    return [(str(m["contact_id"]), str(m["step"])) for m in rows]


def db_rows(proj: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(proj / "j.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_skip_invalid_imports_and_delivers_the_good_rows_and_counts_the_rest_loudly(
    proj: Path,
) -> None:
    (proj / "contacts.csv").write_text(_contacts(), encoding="utf-8")
    (proj / "events.csv").write_text(_events(), encoding="utf-8")
    code, out, err = run(
        proj, "--contacts", str(proj / "contacts.csv"), "--events", str(proj / "events.csv"),
        "--now", "2026-11-02T10:05:00+09:00", "--skip-invalid", "--format", "json",
    )  # fmt: skip
    doc = json.loads(out)
    assert code == 0, err
    good = [f"c{i:02}" for i in range(1, 21) if i not in BAD]
    assert sorted(outbox(proj)) == [(c, "hello") for c in good]
    assert doc["delivered"] == 15
    rejects = proj / "contacts.rejects.csv"
    assert doc["rejected"] == {
        "contacts": 5,
        "events": 0,
        "events_unknown_contact": 5,  # the subscriptions of the 5 rejected contacts
        "files": {"contacts": str(rejects), "events": str(proj / "events.rejects.csv")},
    }
    assert doc["held_back"] == []
    # stderr: every bad row located (file, line, column, reason), the count, the file written
    for i in BAD:
        assert f"contacts.csv:{i + 1}:" in err
    assert "error[bad-int]: column orders: 'many' is not an int" in err
    assert f"contacts.csv: 5 bad row(s) rejected and left out; written to {rejects}" in err
    assert "events.csv: 5 event(s) skipped: their contact is not in the database" in err
    lines = rejects.read_bytes().decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + 5 and lines[0] == "id,email,name,orders,error"
    assert db_rows(proj, "SELECT count(*) FROM contacts") == [(15,)]


def test_without_skip_invalid_the_file_is_held_back_and_the_due_still_goes(proj: Path) -> None:
    # Day 1: two good contacts; c01 subscribes and gets `hello`; `again` is due a day later.
    (proj / "contacts.csv").write_text(_contacts(2, set()), encoding="utf-8")
    (proj / "events.csv").write_text(_events(1), encoding="utf-8")
    code, _, err = run(
        proj, "--contacts", str(proj / "contacts.csv"), "--events", str(proj / "events.csv"),
        "--now", "2026-11-02T10:05:00+09:00",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert outbox(proj) == [("c01", "hello")]
    # Day 2: the export now has 5 bad rows of 20 (and c01 renamed); c02 placed an order.
    (proj / "contacts.csv").write_text(
        _contacts().replace("c01,c1@example.com,N1,", "c01,c1@example.com,Renamed,"),
        encoding="utf-8",
    )
    (proj / "events.csv").write_text(
        "contact_id,event,at\nc02,purchased,2026-11-03T10:00:00+09:00\n", encoding="utf-8"
    )
    code, out, err = run(
        proj, "--contacts", str(proj / "contacts.csv"), "--events", str(proj / "events.csv"),
        "--now", "2026-11-03T10:06:00+09:00", "--format", "json",
    )  # fmt: skip
    doc = json.loads(out)
    assert code == 1
    # What the database had due went out, and the order notice from the good events file too.
    assert sorted(outbox(proj)) == [("c01", "again"), ("c01", "hello"), ("c02", "order-confirmed")]
    assert doc["delivered"] == 2 and doc["exit_code"] == 1
    # Nothing of the bad file was imported: no new contact, no rename; no rejects file.
    assert db_rows(proj, "SELECT id, name FROM contacts ORDER BY id") == [
        ("c01", "N1"),
        ("c02", "N2"),
    ]
    assert not (proj / "contacts.rejects.csv").exists()
    assert doc["imported"]["contacts"] == 0 and doc["imported"]["events_new"] == 1
    (held,) = doc["held_back"]
    assert (held["kind"], held["file"], held["rows"]) == (
        "contacts", str(proj / "contacts.csv"), 5,
    )  # fmt: skip
    assert held["reason"].startswith("5 bad row(s); nothing imported from this file")
    assert (
        f"--skip-invalid imports the good rows and writes the bad ones to {proj}" in held["reason"]
    )
    assert f"error: {proj / 'contacts.csv'}: held back: 5 bad row(s)" in err
    # Located: line 5 is c04 (a bad email, column 2), line 8 is c07 (a bad int, column 4).
    assert "contacts.csv:5:2: error[bad-email]" in err
    assert "contacts.csv:8:4: error[bad-int]" in err
    assert "the tick ran without the file(s) held back" in err
    # The run is recorded with its exit code and what was held back.
    ((exit_code, error),) = db_rows(
        proj, "SELECT exit_code, error FROM runs ORDER BY id DESC LIMIT 1"
    )
    assert exit_code == 1 and "held back" in str(error) and "contacts.csv" in str(error)


def test_events_of_unknown_contacts_hold_back_the_events_file_only(proj: Path) -> None:
    (proj / "contacts.csv").write_text(_contacts(2, set()), encoding="utf-8")
    (proj / "events.csv").write_text(
        _events(1) + "c99,subscribed,2026-11-02T10:00:00+09:00\n", encoding="utf-8"
    )
    code, out, err = run(
        proj, "--contacts", str(proj / "contacts.csv"), "--events", str(proj / "events.csv"),
        "--now", "2026-11-02T10:05:00+09:00", "--format", "json",
    )  # fmt: skip
    doc = json.loads(out)
    assert code == 1
    # The contacts file was good: imported. The events file names c99: held back whole.
    assert db_rows(proj, "SELECT count(*) FROM contacts") == [(2,)]
    assert db_rows(proj, "SELECT count(*) FROM events") == [(0,)]
    assert [(h["kind"], h["rows"]) for h in doc["held_back"]] == [("events", 1)]
    assert "events.csv:3:1: error[unknown-contact]: column contact_id: contact 'c99'" in err
    assert outbox(proj) == []


def test_a_file_that_cannot_be_read_is_held_back_even_with_skip_invalid(proj: Path) -> None:
    (proj / "contacts.csv").write_text("email,name\nx@example.com,X\n", encoding="utf-8")
    code, out, err = run(
        proj, "--contacts", str(proj / "contacts.csv"), "--now", "2026-11-02T10:05:00+09:00",
        "--skip-invalid", "--format", "json",
    )  # fmt: skip
    assert code == 1
    (held,) = json.loads(out)["held_back"]
    assert held["reason"].startswith("it cannot be read to the end")
    assert "error[missing-column]" in err


@pytest.mark.parametrize(
    "args",
    [
        ["run", "P", "--db", "DB", "--contacts", "a.csv", "--contacts", "b.csv"],
        ["run", "P", "--db", "DB", "--now", "2026-11-02", "--now=2026-11-03"],
        ["messages", "--db", "DB", "--db", "other.db"],
        ["contacts", "import", "C", "--db", "DB", "--db", "other.db"],
        ["simulate", "P", "--contacts", "C", "--start", "2026-11-01", "--start", "2026-11-02"],
    ],
)
def test_a_repeated_single_value_option_is_a_usage_error(proj: Path, args: list[str]) -> None:
    (proj / "contacts.csv").write_text(_contacts(2, set()), encoding="utf-8")
    subst = {"P": str(proj / "p"), "DB": str(proj / "j.db"), "C": str(proj / "contacts.csv")}
    r = runner.invoke(app, [subst.get(a, a) for a in args])
    assert r.exit_code == 2
    assert "was given more than once; it takes one value" in r.stderr
    assert not (proj / "j.db").exists()


def test_contacts_import_skip_invalid_names_the_rejects(proj: Path) -> None:
    (proj / "contacts.csv").write_text(_contacts(), encoding="utf-8")
    r = runner.invoke(
        app,
        [
            "contacts", "import", str(proj / "contacts.csv"), "--db", str(proj / "j.db"),
            "--project", str(proj / "p"), "--skip-invalid",
        ],
    )  # fmt: skip
    rejects = proj / "contacts.rejects.csv"
    assert r.exit_code == 0
    assert r.stdout == (
        f"imported 15 contact(s): 15 new; 5 bad row(s) rejected (written to {rejects})\n"
    )
    assert f"5 bad row(s) rejected and left out; written to {rejects}" in r.stderr


def test_jsonl_rejects_are_named_as_written_and_the_help_says_so(proj: Path) -> None:
    src = proj / "contacts.jsonl"
    src.write_text(
        '{"id": "c1", "email": "c1@example.com"}\n{"id": "c2", "email": "nope"}\n',
        encoding="utf-8",
    )
    r = runner.invoke(
        app,
        [
            "contacts", "import", str(src), "--db", str(proj / "j.db"),
            "--project", str(proj / "p"), "--skip-invalid",
        ],
    )  # fmt: skip
    assert r.exit_code == 0
    rejects = proj / "contacts.rejects.jsonl"  # JSON Lines in, JSON Lines out, named so
    assert json.loads(rejects.read_text(encoding="utf-8"))["id"] == "c2"
    assert not (proj / "contacts.rejects.csv").exists()
    for command in (["run"], ["simulate"], ["contacts", "import"], ["events", "import"]):
        text = " ".join(runner.invoke(app, [*command, "--help"]).stdout.split())
        assert "contacts.csv -> contacts.rejects.csv" in text, command
        assert "NAME.rejects.jsonl for .jsonl input" in text, command


def test_simulate_skip_invalid_simulates_the_good_rows(proj: Path) -> None:
    (proj / "contacts.csv").write_text(_contacts(), encoding="utf-8")
    (proj / "events.csv").write_text(_events(), encoding="utf-8")
    args = [
        "simulate", str(proj / "p"), "--contacts", str(proj / "contacts.csv"),
        "--events", str(proj / "events.csv"), "--start", "2026-11-02", "--days", "1",
        "--format", "json", "--sequence", "welcome", "--sequence", "orders",  # may repeat
    ]  # fmt: skip
    r = runner.invoke(app, args)
    assert r.exit_code == 1  # all-or-nothing by default, with the way out named
    assert "--skip-invalid imports the good rows" in r.stderr
    r = runner.invoke(app, [*args, "--skip-invalid"])
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["rejected"]["contacts"] == 5
    assert doc["rejected"]["files"]["contacts"] == str(proj / "contacts.rejects.csv")
    assert len({m["contact_id"] for m in doc["messages"]}) == 15
    assert "5 bad row(s) rejected and left out" in r.stderr


def test_a_held_back_contacts_file_leaves_out_only_its_new_contacts_events(proj: Path) -> None:
    """Issue 13: one bad Excel row must not stop existing customers' order notices, even when
    the events export also names the new contacts of the held-back contacts file."""
    (proj / "contacts.csv").write_text(_contacts(2, set()), encoding="utf-8")
    code, _, err = run(
        proj, "--contacts", str(proj / "contacts.csv"), "--now", "2026-11-02T10:05:00+09:00"
    )
    assert code == 0, err
    (proj / "contacts.csv").write_text(_contacts(), encoding="utf-8")  # 5 bad rows, c03.. new
    (proj / "events.csv").write_text(
        "contact_id,event,at\n"
        "c02,purchased,2026-11-03T10:00:00+09:00\n"
        "c03,subscribed,2026-11-03T10:00:00+09:00\n",
        encoding="utf-8",
    )
    code, out, err = run(
        proj, "--contacts", str(proj / "contacts.csv"), "--events", str(proj / "events.csv"),
        "--now", "2026-11-03T10:06:00+09:00", "--format", "json",
    )  # fmt: skip
    doc = json.loads(out)
    assert code == 1  # the contacts file was held back
    assert ("c02", "order-confirmed") in outbox(proj)
    assert [h["kind"] for h in doc["held_back"]] == ["contacts"]
    assert doc["rejected"]["events_unknown_contact"] == 1
    assert "events.csv:3:1: warning[unknown-contact]" in err
