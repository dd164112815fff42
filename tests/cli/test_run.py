"""`run`, `status`, `messages`, `contacts import`, `events import` through typer's CliRunner."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from journeyctl.store.lock import run_lock
from tests.builders import build_tree

_register()
runner = CliRunner()

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: test-only-unsubscribe-secret  # `run` refuses to start without one
quiet_hours: {start: "21:00", end: "08:00"}
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
  - send: again
    channel: email
    subject: "Again"
    body: "again"
"""

CONTACTS = "id,email,name,timezone\nc1,c1@example.com,Kim,Asia/Seoul\nc2,c2@example.com,Lee,America/New_York\n"
EVENTS = (
    "contact_id,event,at\n"
    "c1,subscribed,2026-11-02T10:00:00+09:00\n"
    "c2,subscribed,2026-10-01T10:00:00+09:00\n"  # a month old when first seen: history
)


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    build_tree(
        tmp_path,
        {
            "p/journey.yaml": JOURNEY,
            "p/welcome.yaml": WELCOME,
            "contacts.csv": CONTACTS,
            "events.csv": EVENTS,
        },
    )
    return tmp_path


def run(proj: Path, *args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, ["run", str(proj / "p"), "--db", str(proj / "j.db"), *args])
    return r.exit_code, r.stdout, r.stderr


def outbox(proj: Path) -> list[dict[str, object]]:
    f = proj / "p" / "outbox" / "email.jsonl"
    return [json.loads(x) for x in f.read_text(encoding="utf-8").splitlines()] if f.exists() else []


def test_run_imports_delivers_and_prints_a_summary(proj: Path) -> None:
    code, out, err = run(
        proj, "--contacts", str(proj / "contacts.csv"), "--events", str(proj / "events.csv"),
        "--now", "2026-11-02T10:05:00+09:00",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out == (
        "run at 2026-11-02 10:05 +09:00: 2 contact(s) advanced, 1 to send, 0 skipped, "
        "1 delivered, 0 retrying, 0 failed; by sequence: welcome 1 to send (1 delivered); "
        "imported 2 contact(s) (2 new), 2 event(s) (2 new)\n"
    )
    # c2's month-old subscription is history: it never enrolls (SPEC §2).
    assert [(m["contact_id"], m["step"]) for m in outbox(proj)] == [("c1", "hello")]


def test_run_again_at_the_same_time_delivers_nothing_new(proj: Path) -> None:
    args = ("--contacts", str(proj / "contacts.csv"), "--events", str(proj / "events.csv"))
    run(proj, *args, "--now", "2026-11-02T10:05:00+09:00")
    code, out, _ = run(proj, *args, "--now", "2026-11-02T10:05:00+09:00", "--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert (doc["decided"], doc["delivered"], doc["imported"]["events_new"]) == (0, 0, 0)
    # c1 arrived at 10:05 with its subscription of 10:00: it entered at 10:00, as simulate
    # has it (SPEC §5), and the 1d wait ends at 10:00 the next day: not a minute earlier.
    code, out, _ = run(proj, *args, "--now", "2026-11-03T09:59:00+09:00", "--format", "json")
    assert json.loads(out)["delivered"] == 0
    code, out, _ = run(proj, *args, "--now", "2026-11-03T10:00:00+09:00", "--format", "json")
    assert json.loads(out)["delivered"] == 1
    assert [m["step"] for m in outbox(proj)] == ["hello", "again"]


def test_dry_run_writes_nothing_and_lists_what_would_go(proj: Path) -> None:
    code, out, _ = run(
        proj, "--contacts", str(proj / "contacts.csv"), "--events", str(proj / "events.csv"),
        "--now", "2026-11-02T10:05:00+09:00", "--dry-run", "--format", "json",
    )  # fmt: skip
    doc = json.loads(out)
    assert code == 0 and doc["dry_run"] is True
    assert [(m["contact_id"], m["step"], m["at"]) for m in doc["messages"]] == [
        ("c1", "hello", "2026-11-02T10:00:00+09:00")
    ]
    assert outbox(proj) == []
    conn = sqlite3.connect(proj / "j.db")
    assert conn.execute("SELECT count(*) FROM contacts").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM ledger").fetchone()[0] == 0
    conn.close()


def test_a_second_run_while_one_holds_the_lock_exits_0_and_does_nothing(proj: Path) -> None:
    (proj / "j.db").touch()
    with run_lock(proj / "j.db"):
        code, out, err = run(
            proj, "--contacts", str(proj / "contacts.csv"), "--now", "2026-11-02T10:05:00+09:00"
        )
    assert code == 0 and out == ""
    assert "another run holds the lock" in err
    conn = sqlite3.connect(proj / "j.db")
    assert conn.execute("SELECT count(*) FROM contacts").fetchone()[0] == 0
    conn.close()


def test_an_invalid_project_is_refused_with_exit_1(proj: Path) -> None:
    (proj / "p" / "welcome.yaml").write_text(WELCOME.replace("wait: 1d", "wait: 1 day"))
    code, _, err = run(proj, "--now", "2026-11-02T10:05:00+09:00")
    assert code == 1
    assert "welcome.yaml:" in err and "bad-duration" in err
    assert not (proj / "j.db").exists()


def test_bad_now_is_a_usage_error(proj: Path) -> None:
    code, _, err = run(proj, "--now", "next tuesday")
    assert code == 2 and "--now: 'next tuesday' is not an ISO 8601" in err


def test_an_unset_channel_variable_keeps_messages_and_exits_1(proj: Path) -> None:
    (proj / "p" / "journey.yaml").write_text(
        JOURNEY.replace("path: outbox/", 'path: "${JOURNEY_TEST_UNSET_OUTBOX}"')
    )
    code, _, err = run(
        proj, "--contacts", str(proj / "contacts.csv"), "--events", str(proj / "events.csv"),
        "--now", "2026-11-02T10:05:00+09:00",
    )  # fmt: skip
    assert code == 1
    assert "JOURNEY_TEST_UNSET_OUTBOX" in err
    conn = sqlite3.connect(proj / "j.db")
    assert conn.execute("SELECT state FROM ledger").fetchall() == [("retry",)]
    conn.close()


def test_status_and_messages_report_the_database(proj: Path) -> None:
    run(
        proj, "--contacts", str(proj / "contacts.csv"), "--events", str(proj / "events.csv"),
        "--now", "2026-11-02T10:05:00+09:00",
    )  # fmt: skip
    db = str(proj / "j.db")
    r = runner.invoke(
        app, ["status", "--db", db, "--format", "json", "--now", "2026-11-02T11:00:00+09:00"]
    )
    doc = json.loads(r.stdout)
    assert r.exit_code == 0
    assert doc["active"] == [{"sequence": "welcome", "step": "again", "contacts": 1}]
    assert doc["deliveries"] == {"sent": 1}
    assert (doc["retrying"], doc["failed"], doc["due_contacts"]) == ([], [], 0)
    assert doc["last_run"]["exit_code"] == 0
    r = runner.invoke(app, ["messages", "--db", db, "--format", "json"])
    (m,) = json.loads(r.stdout)
    assert set(m) == {
        "contact_id", "sequence", "step", "channel", "at", "status", "reason", "deferred_from",
        "deferred_by", "variant", "subject", "message_id", "delivered_at", "attempts",
        "next_attempt_at", "error",
    }  # fmt: skip
    assert (m["status"], m["attempts"], m["next_attempt_at"], m["error"]) == ("sent", 1, None, None)
    assert (m["contact_id"], m["at"], m["delivered_at"], m["subject"]) == (
        "c1", "2026-11-02T10:00:00+09:00", "2026-11-02T10:05:00+09:00", "Hi Kim",
    )  # fmt: skip
    r = runner.invoke(app, ["messages", "--db", db, "--contact", "c2", "--format", "json"])
    assert json.loads(r.stdout) == []


def test_imports_alone_are_idempotent_and_check_contacts(proj: Path) -> None:
    db = str(proj / "j.db")
    p = ["--project", str(proj / "p"), "--now", "2026-11-02T10:05:00+09:00"]
    r = runner.invoke(app, ["events", "import", str(proj / "events.csv"), "--db", db, *p])
    assert r.exit_code == 1
    assert "events.csv:2:1: error[unknown-contact]: column contact_id: contact 'c1'" in r.stderr
    r = runner.invoke(app, ["contacts", "import", str(proj / "contacts.csv"), "--db", db, *p])
    assert (r.exit_code, r.stdout) == (0, "imported 2 contact(s): 2 new\n")
    for new in (2, 0):
        r = runner.invoke(app, ["events", "import", str(proj / "events.csv"), "--db", db, *p])
        assert (r.exit_code, r.stdout) == (0, f"imported 2 event(s): {new} new\n")
    conn = sqlite3.connect(db)
    assert conn.execute(
        "SELECT contact_id, enrolls FROM events ORDER BY contact_id"
    ).fetchall() == [
        ("c1", 1),
        ("c2", 0),
    ]
    conn.close()


def test_a_real_tick_does_not_keep_every_message_in_its_report(proj: Path) -> None:
    # Only --dry-run prints the messages; a real tick of 100k messages must not hold them all.
    from datetime import datetime

    from journeyctl.data.contacts import read_contacts
    from journeyctl.data.events import read_events
    from journeyctl.run.once import run_once
    from journeyctl.spec.loader import load_project

    project = load_project(proj / "p")
    now = datetime.fromisoformat("2026-11-02T10:05:00+09:00")
    result = run_once(
        project, proj / "j.db", now=now, clock=lambda: now,
        contacts=read_contacts(proj / "contacts.csv", project.settings).items,
        events=read_events(proj / "events.csv", project.settings).items,
    )  # fmt: skip
    assert result.report is not None
    assert (result.report.decided, result.report.delivered) == (1, 1)
    assert result.report.messages == []
