"""One grammar for every command (issue 17), as a user runs them: the project directory first
and optional (default `.`), `--format text` everywhere (the old `table` still works, with a
note on stderr), `--out` on the commands that write a report, durations with seconds, data on
stdout and diagnostics on stderr, and the old spellings kept one release with a note."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from tests.builders import build_tree

_register()
ROOT = Path(__file__).resolve().parents[2]
DEPRECATED = "is deprecated and will be removed in the next release"

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: test-only-unsubscribe-secret
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
"""
CONTACTS = "id,email,name\nc1,c1@example.com,Kim\n"
EVENTS = "contact_id,event,at\nc1,subscribed,2026-11-02T10:00:00+09:00\n"


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    build_tree(tmp_path, {"p/journey.yaml": JOURNEY, "p/welcome.yaml": WELCOME,
                          "contacts.csv": CONTACTS, "events.csv": EVENTS})  # fmt: skip
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args), env={"COLUMNS": "100", "NO_COLOR": "1"})
    return r.exit_code, r.stdout, r.stderr


def ran(proj: Path) -> Path:
    db = proj / "j.db"
    code, _, err = invoke("run", str(proj / "p"), "--db", str(db), "--contacts",
                          str(proj / "contacts.csv"), "--events", str(proj / "events.csv"),
                          "--now", "2026-11-02T10:05:00+09:00")  # fmt: skip
    assert code == 0, err
    return db


@pytest.mark.parametrize(
    ("command", "names"),
    [(["graph"], ["welcome"]), (["preview"], ["welcome", "hello"]),
     (["explain"], ["c1", "--contacts", "../contacts.csv", "--start", "2026-11-02"])],
)  # fmt: skip
def test_the_project_directory_defaults_to_the_working_directory(
    proj: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], names: list[str]
) -> None:
    monkeypatch.chdir(proj / "p")
    implicit = invoke(*command, *names)
    explicit = invoke(*command, ".", *names)
    assert implicit[0] == 0, implicit[2]
    assert implicit == explicit


def test_a_lone_project_directory_is_a_usage_error_saying_what_is_missing(proj: Path) -> None:
    code, _, err = invoke("graph", str(proj / "p"))
    assert code == 2 and "is a project directory; give the SEQUENCE after it" in err


def test_format_text_everywhere_and_table_still_works_with_a_note(proj: Path) -> None:
    db = ran(proj)
    for args in (["status", "--db", str(db)], ["messages", "--db", str(db)],
                 ["report", str(proj / "p"), "--db", str(db)],
                 ["explain", str(proj / "p"), "c1", "--db", str(db)]):  # fmt: skip
        text = invoke(*args, "--format", "text")
        old = invoke(*args, "--format", "table")
        # status counts `due now` at the last run's clock and says so on stderr (the
        # only line there); nothing else writes to stderr
        note = "the last run's (from the database; --now to change)\n"
        assert text[0] == 0, (args, text)
        assert text[2] == "" or (args[0] == "status" and text[2].endswith(note)), (args, text)
        assert old[:2] == text[:2]  # same output and exit code
        assert "--format table" in old[2] and DEPRECATED in old[2] and "--format text" in old[2]
    code, _, err = invoke("status", "--db", str(db), "--format", "tabel")
    assert code == 2 and "'tabel' is not one of text, json" in err


def test_out_writes_the_report_to_a_file_and_nothing_to_stdout(proj: Path) -> None:
    db = ran(proj)
    p = str(proj / "p")
    for name, args in {
        "status.txt": ["status", "--db", str(db)],
        "messages.json": ["messages", "--db", str(db), "--format", "json"],
        "report.txt": ["report", p, "--db", str(db)],
        "explain.txt": ["explain", p, "c1", "--db", str(db)],
        "graph.mmd": ["graph", p, "welcome"],
        "plan.txt": ["plan", p, "--db", str(db)],
        "preview.txt": ["preview", p, "welcome", "hello"],
        "validate.json": ["validate", p, "--format", "json"],
    }.items():
        target = proj / name
        code, out, err = invoke(*args, "--out", str(target))
        assert (code, out) == (0, ""), (name, err)
        assert target.read_text(encoding="utf-8").strip(), name
    assert json.loads((proj / "messages.json").read_text())[0]["step"] == "hello"
    assert "ended: completed" in (proj / "status.txt").read_text()
    assert json.loads((proj / "validate.json").read_text())["ok"] is True


def test_out_ending_in_json_writes_json_in_every_command_as_in_simulate_and_report(
    proj: Path,
) -> None:
    """`status --out s.json` wrote a text table into s.json while `report --out r.json` wrote
    JSON: the file's name picks the format everywhere, unless --format says otherwise."""
    db = ran(proj)
    p = str(proj / "p")
    for name, args in {
        "status.json": ["status", "--db", str(db)],
        "messages.json": ["messages", "--db", str(db)],
        "report.json": ["report", p, "--db", str(db)],
        "explain.json": ["explain", p, "c1", "--db", str(db)],
        "plan.json": ["plan", p, "--db", str(db)],
    }.items():
        target = proj / name
        code, out, err = invoke(*args, "--out", str(target))
        assert (code, out) == (0, ""), (name, err)
        json.loads(target.read_text(encoding="utf-8"))  # JSON, not a table
    code, _, err = invoke("plan", p, "--db", str(db), "--out", str(proj / "plan.md"))
    assert code == 0 and (proj / "plan.md").read_text(encoding="utf-8").startswith("#"), err
    code, _, err = invoke("status", "--db", str(db), "--format", "text", "--out",
                          str(proj / "forced.json"))  # fmt: skip
    assert code == 0 and "ended: completed" in (proj / "forced.json").read_text(encoding="utf-8")


def test_imports_take_the_directory_first_and_project_is_deprecated(proj: Path) -> None:
    db = str(proj / "j.db")
    code, out, err = invoke("contacts", "import", str(proj / "p"), str(proj / "contacts.csv"),
                            "--db", db)  # fmt: skip
    assert (code, err) == (0, "") and out.startswith("imported 1 contact(s)")
    code, out, err = invoke("events", "import", str(proj / "events.csv"), "--db", db,
                            "--project", str(proj / "p"))  # fmt: skip
    assert code == 0 and out.startswith("imported 1 event(s)")
    assert "--project DIR" in err and DEPRECATED in err and "events import DIR FILE" in err


def test_status_takes_the_project_directory_for_its_timezone(proj: Path) -> None:
    db = ran(proj)
    code, out, _ = invoke("status", str(proj / "p"), "--db", str(db), "--format", "json")
    assert code == 0 and json.loads(out)["last_run"]["started_at"].endswith("+09:00")
    assert invoke("status", str(proj / "nowhere"), "--db", str(db))[0] == 2


def test_help_texts_say_what_the_option_does() -> None:
    code, out, _ = invoke("status", "--help")
    assert code == 0 and "tick's clock" not in out and "The clock 'due now' is counted at" in out
    code, out, _ = invoke("serve", "--help")
    assert "10s" in out


@pytest.mark.parametrize("every", ["0s", "10x", "1s1m"])
def test_serve_every_refuses_what_is_not_a_duration(proj: Path, every: str) -> None:
    code, _, err = invoke("serve", str(proj / "p"), "--db", str(proj / "j.db"), "--every", every)
    assert code == 2 and "--every" in err


def test_serve_every_takes_seconds_and_logs_to_stderr(proj: Path) -> None:
    db = proj / "state.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "journeyctl", "serve", str(proj / "p"), "--db", str(db),
         "--every", "1s"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline, runs = time.monotonic() + 40, 0
    while time.monotonic() < deadline and runs < 3:
        time.sleep(0.3)
        try:
            with sqlite3.connect(db) as conn:
                runs = conn.execute("select count(*) from runs").fetchone()[0]
        except sqlite3.OperationalError:
            pass
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert runs >= 3, err  # three ticks a second apart: 1m would have given one
    assert proc.returncode == 0, err
    assert out == ""  # a daemon's lines are its log: stderr
    assert "every 1s" in err and "run at " in err
