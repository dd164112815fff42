"""`paused: true` as a user runs it: `run` against a real SQLite file ticked by the CLI, the
file edited to pause and to resume, and `simulate`, `plan`, `status` and `diff` saying so.

Paused: no new entries; contacts in flight hold their place (their due steps wait); on
resume a send that came due meanwhile follows the sequence's late policy.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from journeyctl.engine.make import make_engine
from journeyctl.engine.model import Status
from journeyctl.simulate.replay import simulate
from journeyctl.spec.loader import load_project
from tests.e2e.project import START, population, write_project
from tests.e2e.test_run_equals_simulate import END, actual, predicted, ran, ticks

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: test-only-unsubscribe-secret
channels:
  email: {type: file, path: outbox/, medium: email}
"""

WELCOME = """
sequence: welcome
trigger: {event: subscribed}
late: {max: 6h}
exit_on: [unsubscribed]
steps:
  - send: hello
    subject: "Hello"
    body: "hello"
  - wait: 1d
  - send: tips
    subject: "Tips"
    body: "tips"
"""

CONTACTS = "id,email,name\nc1,c1@example.com,One\nc2,c2@example.com,Two\nc3,c3@example.com,Three\n"


def cli(*args: str) -> tuple[int, str, str]:
    _register()
    r = CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})
    return r.exit_code, r.stdout, r.stderr


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def tick(proj: Path, db: Path, now: str, events: list[str] | None = None) -> None:
    args = ["run", str(proj), "--db", str(db), "--now", now, "--format", "json"]
    if events is not None:
        f = db.parent / f"events-{len(list(db.parent.glob('events-*')))}.csv"
        f.write_text("contact_id,event,at\n" + "".join(e + "\n" for e in events), "utf-8")
        args += ["--events", str(f)]
    code, out, err = cli(*args)
    assert code == 0, out + err


def ledger(db: Path) -> list[tuple[str, str, str, str | None, str]]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT contact_id, step, status, reason, state FROM ledger ORDER BY contact_id, at"
        ).fetchall()
    finally:
        conn.close()
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def set_paused(proj: Path, paused: bool) -> None:
    text = textwrap.dedent(WELCOME).lstrip()
    if paused:
        text = text.replace("late: {max: 6h}\n", "late: {max: 6h}\npaused: true\n")
    (proj / "welcome.yaml").write_text(text, encoding="utf-8")


@pytest.fixture
def paused_world(tmp_path: Path) -> tuple[Path, Path]:
    """c1 and c2 subscribed and got `hello`; then welcome was paused before `tips` came due
    (2026-11-03 10:00 and 10:30), and c3 subscribed while paused."""
    proj = tmp_path / "proj"
    write(proj / "journey.yaml", JOURNEY)
    set_paused(proj, False)
    write(tmp_path / "contacts.csv", CONTACTS)
    db = tmp_path / "journey.db"
    code, out, err = cli("run", str(proj), "--db", str(db), "--contacts",
                         str(tmp_path / "contacts.csv"), "--now", "2026-11-01T09:00:00+09:00")  # fmt: skip
    assert code == 0, out + err
    tick(proj, db, "2026-11-02T10:45:00+09:00",
         ["c1,subscribed,2026-11-02T10:00:00+09:00", "c2,subscribed,2026-11-02T10:30:00+09:00"])  # fmt: skip
    assert [r[:3] for r in ledger(db)] == [("c1", "hello", "sent"), ("c2", "hello", "sent")]
    set_paused(proj, True)
    tick(proj, db, "2026-11-02T12:00:00+09:00", ["c3,subscribed,2026-11-02T11:50:00+09:00"])
    tick(proj, db, "2026-11-03T11:00:00+09:00")  # tips came due at 10:00 and 10:30: held
    return proj, db


def test_paused_sequence_holds_its_contacts_and_enrolls_nobody(
    paused_world: tuple[Path, Path],
) -> None:
    proj, db = paused_world
    assert [r[:3] for r in ledger(db)] == [("c1", "hello", "sent"), ("c2", "hello", "sent")]
    code, out, _ = cli("status", "--db", str(db), "--now", "2026-11-03T11:00:00+09:00",
                       "--format", "json")  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc["paused"] == [{"sequence": "welcome", "holding": 2}]
    assert doc["held"] == [] and doc["held_total"] == 0  # holding is not a failure
    assert {"active", "ended", "due_contacts", "deliveries", "last_run"} <= set(doc)
    _, out, _ = cli("status", "--db", str(db), "--now", "2026-11-03T11:00:00+09:00")
    assert "paused: welcome (2 contact(s) holding their place)" in out
    code, out, _ = cli("plan", str(proj), "--db", str(db), "--now", "2026-11-03T11:00:00+09:00",
                       "--format", "json")  # fmt: skip
    assert code == 0
    plan = json.loads(out)
    assert plan["paused"] == [{"sequence": "welcome", "contacts": 2}]
    assert plan["messages"]["planned"] == []
    _, out, _ = cli("plan", str(proj), "--db", str(db), "--now", "2026-11-03T11:00:00+09:00")
    assert "paused: welcome: no new entries; 2 in-flight contact(s) hold their place" in out


def test_resume_sends_what_came_due_within_late_max(paused_world: tuple[Path, Path]) -> None:
    """Resumed 3 h after `tips` came due (late.max 6h): sent at once, at its own time."""
    proj, db = paused_world
    set_paused(proj, False)
    tick(proj, db, "2026-11-03T13:00:00+09:00")
    rows = ledger(db)
    assert [r[:3] for r in rows] == [
        ("c1", "hello", "sent"), ("c1", "tips", "sent"),
        ("c2", "hello", "sent"), ("c2", "tips", "sent"),
    ]  # fmt: skip
    conn = sqlite3.connect(db)
    ats = conn.execute("SELECT at FROM ledger WHERE step = 'tips' ORDER BY contact_id").fetchall()
    conn.close()
    from journeyctl.store.serialize import from_micros

    assert [from_micros(a[0]).isoformat() for a in ats] == [
        "2026-11-03T01:00:00+00:00",
        "2026-11-03T01:30:00+00:00",
    ]
    # c3 subscribed while paused: that event is spent, the resume does not enroll it.
    code, out, _ = cli("status", "--db", str(db), "--format", "json",
                       "--now", "2026-11-03T13:00:00+09:00")  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc["paused"] == []
    assert {(r["sequence"], r["outcome"]) for r in doc["ended"]} == {("welcome", "completed")}


def test_resume_after_late_max_skips_late(paused_world: tuple[Path, Path]) -> None:
    proj, db = paused_world
    set_paused(proj, False)
    tick(proj, db, "2026-11-04T10:00:00+09:00")  # 24 h after tips came due, late.max is 6h
    rows = ledger(db)
    assert [(r[0], r[1], r[2], r[3]) for r in rows if r[1] == "tips"] == [
        ("c1", "tips", "skipped", "late"),
        ("c2", "tips", "skipped", "late"),
    ]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_diff_says_paused_and_resumed(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    write(proj / "journey.yaml", JOURNEY)
    set_paused(proj, False)
    for args in (("init", "-q", "-b", "main"), ("config", "user.email", "t@example.com"),
                 ("config", "user.name", "T"), ("add", "."), ("commit", "-q", "-m", "a")):  # fmt: skip
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)
    set_paused(proj, True)
    code, out, err = cli("diff", str(proj), "--base", "main")
    assert "paused: no new entries" in out, out + err
    code, out, _ = cli("diff", str(proj), "--base", "main", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    (seq,) = doc["sequences"]
    assert [c["kind"] for c in seq["changes"]] == ["paused"]
    # Pausing is not a content edit: the version stays, nobody migrates.
    assert seq["old_version"] == seq["new_version"]


def test_simulate_says_paused(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    write(proj / "journey.yaml", JOURNEY)
    set_paused(proj, True)
    write(tmp_path / "contacts.csv", CONTACTS)
    write(tmp_path / "events.csv", "contact_id,event,at\nc1,subscribed,2026-11-02T10:00:00+09:00\n")
    base = ["simulate", str(proj), "--contacts", str(tmp_path / "contacts.csv"), "--events",
            str(tmp_path / "events.csv"), "--start", "2026-11-01", "--days", "5"]  # fmt: skip
    code, out, err = cli(*base, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["summary"]["welcome"]["paused"] is True
    assert doc["summary"]["welcome"]["entered"] == 0 and doc["messages"] == []
    assert "paused: welcome" in err
    code, out, err = cli(*base)
    assert "welcome (paused)" in out


def test_run_equals_simulate_with_paused_sequences(tmp_path: Path) -> None:
    """The e2e fixture with `winback` (segment) and `cart` (event) paused: run ticked every
    3 h delivers exactly what simulate predicts, and neither enrolls anybody in them."""
    root = write_project(tmp_path / "project")
    for name in ("winback", "cart"):
        path = root / f"{name}.yaml"
        path.write_text("paused: true\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    contacts, events = population()
    want_sent, want_skipped = predicted(root, contacts, events)
    assert {q[1] for q in want_sent} == {"welcome", "birthday"}
    db = tmp_path / "journey.db"
    ran(root, db, contacts, events, ticks(timedelta(hours=3)))
    got_sent, got_skipped, _ = actual(db)
    assert got_sent == want_sent
    assert got_skipped == want_skipped
    sim = simulate(load_project(root), contacts, events, START, END)
    assert not any(e.sequence in ("winback", "cart") for e in sim.enrollments)
    assert make_engine(load_project(root)).sequences  # the paused ones still load
    assert all(m.status in (Status.SENT, Status.SKIPPED) for m in sim.messages)
