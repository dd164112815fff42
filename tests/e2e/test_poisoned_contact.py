"""SPEC §5: one contact's bad data never stops the others. A subject, body or branch that fails
for one contact fails that message (or holds that decision) with a located reason; the tick
goes on for everyone else and exits 1; the contact is tried again only when its data or the
project changes. `simulate` predicts it (skipped, `render_error`) as `run` records it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from tests.builders import build_tree

_register()
runner = CliRunner()

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: "${UNSUBSCRIBE_SECRET}"
contacts:
  fields: {n: int}
channels:
  email: {type: file, path: outbox/, medium: email}
"""

WELCOME = """
sequence: welcome
trigger: {event: subscribed}
steps:
  - send: hello
    channel: email
    subject: "점수 {{ 100 // contact.n }} {{ contact.name }}님"
    template: hello.html.j2
  - wait: 1d
  - branch:
      if: "contact.n > 3"
      then: [{send: big, channel: email, subject: "big", body: "big"}]
      else: [{send: small, channel: email, subject: "small", body: "small"}]
"""

HELLO = "<p>{{ contact.name }}님</p>\n<p>{{ 60 // (contact.n - 2) }}</p>\n"

EVENTS = (
    "contact_id,event,at\n"
    "c1,subscribed,2026-11-01T10:00:00+09:00\n"
    "c2,subscribed,2026-11-01T10:00:00+09:00\n"
    "c3,subscribed,2026-11-01T10:00:00+09:00\n"
)
# c1 breaks the subject (n = 0), c3 the template file (n = 2); c2 is fine.
CONTACTS = "id,email,name,n\nc1,a@x.com,Kim,0\nc2,b@x.com,Lee,5\nc3,c@x.com,Park,2\n"


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("UNSUBSCRIBE_SECRET", "a-test-secret")
    monkeypatch.chdir(tmp_path)
    build_tree(
        tmp_path,
        {
            "p/journey.yaml": JOURNEY,
            "p/welcome.yaml": WELCOME,
            "p/templates/hello.html.j2": HELLO,
            "contacts.csv": CONTACTS,
            "events.csv": EVENTS,
        },
    )
    return tmp_path


def _run(root: Path, now: str, *extra: str) -> tuple[int, dict, str]:
    result = runner.invoke(
        app,
        ["run", str(root / "p"), "--db", str(root / "j.db"), "--now", now, "--format", "json",
         *extra],
    )  # fmt: skip
    return result.exit_code, json.loads(result.stdout), result.stderr


def _delivered(root: Path) -> list[tuple[str, str]]:
    rows = [
        json.loads(line)
        for path in sorted((root / "p/outbox").glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    return sorted((r["contact_id"], r["step"]) for r in rows)


def _failed(root: Path) -> list[dict]:
    result = runner.invoke(app, ["status", "--db", str(root / "j.db"), "--format", "json"])
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout)["failed"])


def test_one_poisoned_contact_fails_its_message_and_the_tick_goes_on(proj: Path) -> None:
    code, doc, err = _run(
        proj, "2026-11-01T10:05:00+09:00", "--contacts", str(proj / "contacts.csv"),
        "--events", str(proj / "events.csv"),
    )  # fmt: skip
    assert code == 1, err
    assert doc["delivered"] == 1 and doc["failed"] == 2
    assert _delivered(proj) == [("c2", "hello")]
    # Located: the sequence file's line and column for the subject, the template's line for
    # the file; the expression and the contact's values it read.
    assert "welcome.yaml:6:15:" in err and "ZeroDivisionError" in err and "contact.n = 0" in err
    assert "hello.html.j2:2" in err and "contact.n = 2" in err
    failed = {f["contact_id"]: f for f in _failed(proj)}
    assert set(failed) == {"c1", "c3"}
    assert "contact.n = 0" in failed["c1"]["error"]

    # The next tick does not retry it (nothing changed): exit 0, nothing new.
    code, doc, err = _run(proj, "2026-11-01T10:06:00+09:00")
    assert code == 0 and doc["failed"] == 0 and doc["decided"] == 0, err

    # The contact's data is fixed in the next export: that message goes out at once.
    (proj / "contacts.csv").write_text(CONTACTS.replace("Kim,0", "Kim,4"), encoding="utf-8")
    code, doc, err = _run(
        proj, "2026-11-01T10:30:00+09:00", "--contacts", str(proj / "contacts.csv")
    )
    assert code == 0 and doc["delivered"] == 1, err  # c3 is not tried again: unchanged
    assert _delivered(proj) == [("c1", "hello"), ("c2", "hello")]
    assert {f["contact_id"] for f in _failed(proj)} == {"c3"}

    # The project is fixed: the held contact is tried again without any new data.
    (proj / "p/templates/hello.html.j2").write_text(
        HELLO.replace("(contact.n - 2)", "((contact.n - 2) or 1)"), encoding="utf-8"
    )
    code, doc, err = _run(proj, "2026-11-01T11:00:00+09:00")
    assert code == 0 and doc["delivered"] == 1, err
    assert _delivered(proj) == [("c1", "hello"), ("c2", "hello"), ("c3", "hello")]
    assert _failed(proj) == []

    # The rest of the sequence follows, from each contact's own schedule.
    code, doc, err = _run(proj, "2026-11-02T10:30:00+09:00")
    assert code == 0, err
    assert ("c1", "big") in _delivered(proj) and ("c3", "small") in _delivered(proj)


def test_simulate_predicts_the_failures_run_records(proj: Path) -> None:
    result = runner.invoke(
        app,
        ["simulate", str(proj / "p"), "--contacts", str(proj / "contacts.csv"), "--events",
         str(proj / "events.csv"), "--start", "2026-11-01", "--days", "3", "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    hello = {m["contact_id"]: m for m in doc["messages"] if m["step"] == "hello"}
    assert hello["c1"]["status"] == "skipped" and hello["c1"]["reason"] == "render_error"
    assert hello["c3"]["status"] == "skipped" and hello["c3"]["reason"] == "render_error"
    assert hello["c2"]["status"] == "sent"
    # the poisoned contacts wait at the step: nothing after it is predicted for them
    assert {m["contact_id"] for m in doc["messages"] if m["step"] != "hello"} == {"c2"}
    assert "contact.n = 0" in result.stderr and "hello.html.j2:2" in result.stderr

    code, _, _ = _run(
        proj, "2026-11-01T10:05:00+09:00", "--contacts", str(proj / "contacts.csv"),
        "--events", str(proj / "events.csv"),
    )  # fmt: skip
    assert code == 1
    assert sorted(f["contact_id"] for f in _failed(proj)) == ["c1", "c3"]


def test_a_branch_that_fails_for_the_contact_is_false_and_explained(proj: Path) -> None:
    """A condition is not a message: one that raises for the contact's data is false, as
    `days_since(last_event('purchased')) < 7` before any purchase should be, and explain
    says why; the contact is not held (it would wait for ever for a fact that never comes)."""
    contacts = "id,email,name,n\nc1,a@x.com,Kim,\n"  # n empty: `contact.n > 3` is a TypeError
    (proj / "contacts.csv").write_text(contacts, encoding="utf-8")
    (proj / "events.csv").write_text(EVENTS.split("c2,")[0], encoding="utf-8")
    (proj / "p/welcome.yaml").write_text(
        WELCOME.replace("{{ 100 // contact.n }}", "1").replace(
            "template: hello.html.j2", "body: hi"
        ),
        encoding="utf-8",
    )
    code, _, err = _run(
        proj, "2026-11-01T10:05:00+09:00", "--contacts", str(proj / "contacts.csv"),
        "--events", str(proj / "events.csv"),
    )  # fmt: skip
    assert code == 0, err
    code, _, err = _run(proj, "2026-11-02T10:30:00+09:00")
    assert code == 0, err
    assert _delivered(proj) == [("c1", "hello"), ("c1", "small")]
    explain = runner.invoke(
        app,
        ["explain", str(proj / "p"), "c1", "--contacts", str(proj / "contacts.csv"), "--events",
         str(proj / "events.csv"), "--start", "2026-11-01", "--days", "3"],
    )  # fmt: skip
    assert "contact.n > 3" in explain.stdout and "TypeError" in explain.stdout, explain.output
    status = runner.invoke(app, ["status", "--db", str(proj / "j.db"), "--format", "json"])
    assert json.loads(status.stdout)["held"] == []


def test_an_exit_ends_a_held_enrollment(proj: Path) -> None:
    (proj / "p/welcome.yaml").write_text(
        WELCOME.replace(
            "trigger: {event: subscribed}", "trigger: {event: subscribed}\nexit_on: [unsubscribed]"
        ),
        encoding="utf-8",
    )
    code, _, err = _run(
        proj, "2026-11-01T10:05:00+09:00", "--contacts", str(proj / "contacts.csv"),
        "--events", str(proj / "events.csv"),
    )  # fmt: skip
    assert code == 1, err
    events = EVENTS + "c1,unsubscribed,2026-11-01T11:00:00+09:00\n"
    (proj / "events.csv").write_text(events, encoding="utf-8")
    code, _, err = _run(proj, "2026-11-01T11:05:00+09:00", "--events", str(proj / "events.csv"))
    assert code == 0, err
    status = runner.invoke(app, ["status", "--db", str(proj / "j.db"), "--format", "json"])
    assert [h["contact_id"] for h in json.loads(status.stdout)["held"]] == ["c3"]
    # A project edit wakes only the contacts still held (c3), not the one that exited.
    (proj / "p/templates/hello.html.j2").write_text(HELLO + "\n", encoding="utf-8")
    code, doc, err = _run(proj, "2026-11-01T11:10:00+09:00")
    assert doc["contacts"] == 1, err


def test_empty_values_print_as_empty(proj: Path) -> None:
    (proj / "contacts.csv").write_text("id,email,name,n\nc1,a@x.com,,4\n", encoding="utf-8")
    (proj / "events.csv").write_text(EVENTS.split("c2,")[0], encoding="utf-8")
    (proj / "p/welcome.yaml").write_text(
        WELCOME.replace(
            "점수 {{ 100 // contact.n }} {{ contact.name }}님",
            "{{ contact.name }}{{ contact.name | trim }}님",
        ).replace("template: hello.html.j2", "body: \"{{ contact.name | default('고객') }}님\""),
        encoding="utf-8",
    )
    code, _, err = _run(
        proj, "2026-11-01T10:05:00+09:00", "--contacts", str(proj / "contacts.csv"),
        "--events", str(proj / "events.csv"),
    )  # fmt: skip
    assert code == 0, err
    (row,) = [json.loads(line) for p in (proj / "p/outbox").glob("*.jsonl") for line in p.open()]
    assert row["subject"] == "님" and row["text"] == "고객님"
    assert "None" not in json.dumps(row, ensure_ascii=False)


def test_preview_of_a_poisoned_contact_says_where(proj: Path) -> None:
    result = runner.invoke(
        app,
        ["preview", str(proj / "p"), "welcome", "hello", "--contact", "c1", "--contacts",
         str(proj / "contacts.csv")],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "welcome.yaml:6:15" in result.stderr and "contact.n = 0" in result.stderr
    assert "internal error" not in result.output


def test_a_failure_in_a_layout_names_the_layout_and_its_line(proj: Path) -> None:
    (proj / "p/templates/hello.html.j2").write_text(
        '{% extends "base.html.j2" %}\n{% block content %}hi{% endblock %}\n', encoding="utf-8"
    )
    (proj / "p/templates/base.html.j2").write_text(
        "<html>\n<p>x</p>\n<p>{{ 7 // contact.n }}</p>\n{% block content %}{% endblock %}\n",
        encoding="utf-8",
    )
    (proj / "p/welcome.yaml").write_text(
        WELCOME.replace("{{ 100 // contact.n }}", "1"), encoding="utf-8"
    )
    result = runner.invoke(
        app,
        ["preview", str(proj / "p"), "welcome", "hello", "--contact", "c1", "--contacts",
         str(proj / "contacts.csv")],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "base.html.j2:3: template `<p>{{ 7 // contact.n }}</p>`" in result.stderr
    assert "contact.n = 0" in result.stderr


def test_a_failure_line_shows_terminal_controls_in_the_data_escaped(proj: Path) -> None:
    """An ESC in a contact's value reaches the run's error line shown, never obeyed."""
    (proj / "contacts.csv").write_text(
        CONTACTS.replace("Kim,0", "Kim\x1b]0;owned\x07,0"), encoding="utf-8"
    )
    code, _, err = _run(
        proj, "2026-11-01T10:05:00+09:00", "--contacts", str(proj / "contacts.csv"),
        "--events", str(proj / "events.csv"),
    )  # fmt: skip
    assert code == 1
    assert "\x1b" not in err and "contact.n = 0" in err
