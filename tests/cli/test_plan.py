"""`journeyctl plan` end to end: `run` fills a real SQLite db, the files change in git, `plan`
says what happens to the contacts in flight and to the next 24 hours' messages."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: test-only-unsubscribe-secret  # `run` refuses to start without one
contacts:
  fields: {consent_email: bool}
channels:
  email: {type: file, path: outbox/, medium: email}
"""
NUDGE = """
sequence: nudge
trigger: {event: subscribed}
ad: false
steps:
  - send: first
    subject: First
    body: "1"
  - wait: 1d
  - send: second
    subject: Second
    body: "2"
  - wait: 1d
  - send: third
    subject: Third
    body: "3"
  - wait: 1d
  - send: fourth
    subject: Fourth
    body: "4"
"""
# `second` renamed (with a migrate), `third` and its wait removed, `bonus` added after `fourth`.
NUDGE_EDITED = """
sequence: nudge
trigger: {event: subscribed}
ad: false
migrate: {second: second-v2}
steps:
  - send: first
    subject: First
    body: "1"
  - wait: 1d
  - send: second-v2
    subject: Second, reworded
    body: "2"
  - wait: 1d
  - send: fourth
    subject: Fourth
    body: "4"
  - send: bonus
    subject: Bonus
    body: "5"
"""
PROMO = """
sequence: promo
trigger: {event: promo_signup}
ad: false
steps:
  - send: p1
    subject: P1
    body: "p1"
  - wait: 1d
  - send: p2
    subject: P2
    body: "p2"
"""
WINBACK = """
sequence: winback
trigger: {event: lapsed}
ad: false
steps:
  - send: come-back
    subject: Come back
    body: "x"
"""
CONTACTS = "id,email,name,consent_email\n" + "".join(
    f"c{i},c{i}@example.com,C{i},true\n" for i in range(1, 6)
)
# One run a day; who subscribed when decides where each contact stands on 11-03 10:05.
DAYS = {
    "2026-11-01": ["c4,subscribed"],
    "2026-11-02": ["c3,subscribed"],
    "2026-11-03": ["c1,subscribed", "c2,subscribed", "c5,promo_signup"],
}
NOW = "2026-11-03T10:05:00+09:00"


def cli(*args: str) -> tuple[int, str, str]:
    _register()
    r = CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})
    return r.exit_code, r.stdout, r.stderr


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path]:
    """A committed project, a db filled by three daily runs, then the edit in the working tree."""
    proj = tmp_path / "proj"
    write(proj, {"journey.yaml": JOURNEY, "nudge.yaml": NUDGE, "promo.yaml": PROMO})
    write(tmp_path, {"contacts.csv": CONTACTS})
    db = tmp_path / "journey.db"
    # Contacts first: a contact imported with its event would enter at the import, not at 10:00.
    code, out, err = cli("run", str(proj), "--db", str(db), "--contacts",
                         str(tmp_path / "contacts.csv"), "--now", "2026-10-31T09:00:00+09:00")  # fmt: skip
    assert code == 0, out + err
    for day, rows in DAYS.items():
        events = tmp_path / f"ev-{day}.csv"
        events.write_text(
            "contact_id,event,at\n" + "".join(f"{r},{day}T10:00:00+09:00\n" for r in rows),
            encoding="utf-8",
        )
        code, out, err = cli("run", str(proj), "--db", str(db), "--events", str(events),
                             "--now", f"{day}T10:05:00+09:00")  # fmt: skip
        assert code == 0, out + err
    if shutil.which("git"):
        git(tmp_path, "init", "-q", "-b", "main")
        git(tmp_path, "config", "user.email", "test@example.com")
        git(tmp_path, "config", "user.name", "Test")
        git(tmp_path, "add", "proj")
        git(tmp_path, "commit", "-q", "-m", "before")
    write(proj, {"nudge.yaml": NUDGE_EDITED, "winback.yaml": WINBACK})
    (proj / "promo.yaml").unlink()
    return proj, db


def dump(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def test_fates_per_step_and_new_sequence_without_base(world: tuple[Path, Path]) -> None:
    proj, db = world
    before = dump(db)
    code, out, err = cli("plan", str(proj), "--db", str(db), "--now", NOW, "--format", "json")
    assert code == 0, out + err
    doc = json.loads(out)
    seqs = {s["sequence"]: s for s in doc["sequences"]}
    assert [(s["status"], s["contacts"]) for s in doc["sequences"]] == [
        ("changed", 4), ("removed", 1), ("added", 0),
    ]  # fmt: skip
    steps = [(f["step"], f["contacts"], f["action"], f["to"], f["reason"])
             for f in seqs["nudge"]["steps"]]  # fmt: skip
    # The new flow's order first (`fourth`), then the ids it lost.
    assert steps == [
        ("fourth", 1, "continue", None, None),
        ("second", 2, "move", "second-v2", None),
        ("third", 1, "exit", None, "step_removed"),
    ]
    assert seqs["promo"]["steps"] == [
        {"step": "p2", "contacts": 1, "action": "exit", "to": None, "reason": "sequence_removed"}
    ]
    assert seqs["winback"]["enrolls"] == "enrolls on the next `lapsed` event"
    assert doc["base"] is None and doc["messages"]["added"] is None
    planned = [(m["contact_id"], m["step"], m["at"]) for m in doc["messages"]["planned"]]
    assert planned == [
        ("c1", "second-v2", "2026-11-04T10:00:00+09:00"),
        ("c2", "second-v2", "2026-11-04T10:00:00+09:00"),
        ("c4", "fourth", "2026-11-04T10:00:00+09:00"),
        ("c4", "bonus", "2026-11-04T10:00:00+09:00"),
    ]
    assert dump(db) == before  # plan never writes


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_messages_new_and_gone_against_base(world: tuple[Path, Path]) -> None:
    proj, db = world
    code, out, err = cli("plan", str(proj), "--db", str(db), "--now", NOW, "--base", "main",
                         "--format", "json")  # fmt: skip
    assert code == 0, out + err
    doc = json.loads(out)
    assert doc["base"] == "main"
    # With a base, "new" means not in the base: only winback.
    assert [s["sequence"] for s in doc["sequences"] if s["status"] == "added"] == ["winback"]
    msgs = doc["messages"]
    assert [(m["contact_id"], m["sequence"], m["step"]) for m in msgs["added"]] == [
        ("c1", "nudge", "second-v2"), ("c2", "nudge", "second-v2"), ("c4", "nudge", "bonus"),
    ]  # fmt: skip
    assert [(m["contact_id"], m["sequence"], m["step"]) for m in msgs["dropped"]] == [
        ("c1", "nudge", "second"), ("c2", "nudge", "second"), ("c3", "nudge", "third"),
        ("c5", "promo", "p2"),
    ]  # fmt: skip
    assert {m["at"] for m in msgs["added"] + msgs["dropped"]} == {"2026-11-04T10:00:00+09:00"}


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_text_and_markdown(world: tuple[Path, Path]) -> None:
    proj, db = world
    code, out, _ = cli("plan", str(proj), "--db", str(db), "--now", NOW, "--base", "main")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "5 in-flight enrollment(s) in 2 changed sequence(s)"
    assert "  at `second`: 2 contact(s) move → `second-v2`" in lines
    assert "  at `third`: 1 contact(s) exit step_removed" in lines
    assert "promo (removed): 1 contact(s) exit sequence_removed" in lines
    assert "winback (new): enrolls on the next `lapsed` event" in lines
    assert "  2026-11-04 10:00 KST  c4  nudge/bonus via email" in lines
    code, md, _ = cli("plan", str(proj), "--db", str(db), "--now", NOW, "--base", "main",
                      "--format", "markdown")  # fmt: skip
    assert code == 0
    assert "| `third` | 1 | exit step_removed |" in md.splitlines()
    assert "| 2026-11-04 10:00 KST | c5 | promo | `p2` | email |" in md.splitlines()


def test_nothing_changed_and_usage_errors(tmp_path: Path, world: tuple[Path, Path]) -> None:
    proj, db = world
    code, _, err = cli("plan", str(proj), "--db", str(tmp_path / "nope.db"))
    assert code == 2 and "does not exist" in err
    code, _, err = cli("plan", str(proj), "--db", str(db), "--now", "tomorrow")
    assert code == 2 and "--now" in err
    (proj / "nudge.yaml").write_text(textwrap.dedent(NUDGE).lstrip(), encoding="utf-8")
    write(proj, {"promo.yaml": PROMO})
    (proj / "winback.yaml").unlink()
    code, out, _ = cli("plan", str(proj), "--db", str(db), "--now", NOW)
    assert code == 0
    assert out.splitlines()[0] == "no in-flight enrollment is affected by the current files"
