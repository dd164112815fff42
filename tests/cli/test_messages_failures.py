"""Operators see failures (issue 13, item 7): `messages --status` and `explain --db` tell what
the channel did, against a real local HTTP server and a real SQLite file."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from tests.builders import build_tree

_register()
runner = CliRunner()


class _Hook(BaseHTTPRequestHandler):
    """/bad answers 400 (a permanent failure), /busy 503 (retried later)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status, body = (400, b"bad payload") if self.path == "/bad" else (503, b"try later")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


ORDERS = """
sequence: orders
trigger: {event: purchased}
ad: false
transactional: true
steps:
  - send: confirmed
    channel: email
    subject: "Order received"
    body: "thanks"
  - send: offer
    channel: hook
    body: "to the partner"
  - send: nudge
    channel: busy
    body: "to the busy partner"
"""


@pytest.fixture
def db(tmp_path: Path, server: str) -> str:
    journey = f"""
timezone: Asia/Seoul
channels:
  email: {{type: file, path: outbox/, medium: email}}
  hook: {{type: webhook, url: "{server}/bad"}}
  busy: {{type: webhook, url: "{server}/busy"}}
"""
    build_tree(
        tmp_path,
        {
            "p/journey.yaml": journey,
            "p/orders.yaml": ORDERS,
            "contacts.csv": "id,email,name\nc1,c1@example.com,Kim\n",
            "events.csv": "contact_id,event,at\nc1,purchased,2026-11-02T10:00:00+09:00\n",
        },
    )
    r = runner.invoke(
        app,
        [
            "run", str(tmp_path / "p"), "--db", str(tmp_path / "j.db"),
            "--contacts", str(tmp_path / "contacts.csv"), "--events", str(tmp_path / "events.csv"),
            "--now", "2026-11-02T10:05:00+09:00",
        ],
    )  # fmt: skip
    assert r.exit_code == 1  # a delivery failed for good
    assert "1 delivered, 1 retrying, 1 failed" in r.stdout
    return str(tmp_path / "j.db")


def messages(db: str, *args: str) -> list[dict[str, Any]]:
    r = runner.invoke(app, ["messages", "--db", db, "--format", "json", *args])
    assert r.exit_code == 0, r.stderr
    out: list[dict[str, Any]] = json.loads(r.stdout)
    return out


def test_messages_lists_failed_retrying_and_all_with_their_errors(db: str) -> None:
    # By default, as before: what was delivered.
    assert [(m["step"], m["status"]) for m in messages(db)] == [("confirmed", "sent")]
    (failed,) = messages(db, "--status", "failed")
    assert (failed["step"], failed["channel"], failed["status"]) == ("offer", "hook", "failed")
    assert failed["error"].startswith("webhook hook: HTTP 400")
    assert "bad payload" in failed["error"]
    assert (failed["attempts"], failed["delivered_at"], failed["next_attempt_at"]) == (
        1,
        None,
        None,
    )
    assert failed["message_id"]
    (retrying,) = messages(db, "--status", "retrying")
    assert (retrying["step"], retrying["status"], retrying["attempts"]) == ("nudge", "retrying", 1)
    assert retrying["error"].startswith("webhook busy: HTTP 503")
    assert retrying["next_attempt_at"] > "2026-11-02T10:05:00+09:00"
    assert retrying["next_attempt_at"].endswith("+09:00")  # the contact's (project's) zone
    everything = messages(db, "--status", "all")
    assert [(m["step"], m["status"]) for m in everything] == [
        ("confirmed", "sent"),
        ("offer", "failed"),
        ("nudge", "retrying"),
    ]
    # One shape for every row: today's fields plus the delivery's.
    fields = (
        "contact_id sequence step channel at status reason deferred_from deferred_by variant "
        "subject message_id delivered_at attempts next_attempt_at error"
    )
    assert {frozenset(m) for m in everything} == {frozenset(fields.split())}
    assert messages(db, "--status", "skipped") == []
    # --since: by the message's time
    assert len(messages(db, "--status", "all", "--since", "2026-11-02T09:00:00+09:00")) == 3
    assert messages(db, "--status", "all", "--since", "2026-11-03") == []


def test_messages_table_shows_the_error(db: str) -> None:
    r = runner.invoke(app, ["messages", "--db", db, "--status", "failed"], env={"COLUMNS": "300"})
    assert r.exit_code == 0
    assert "failed after 1 attempt(s): webhook hook: HTTP 400" in r.stdout
    assert "1 message(s)" in r.stdout


def test_messages_bad_status_and_since_are_usage_errors(db: str) -> None:
    r = runner.invoke(app, ["messages", "--db", db, "--status", "lost"])
    assert r.exit_code == 2 and "'lost' is not one of" in r.stderr
    r = runner.invoke(app, ["messages", "--db", db, "--since", "yesterday"])
    assert r.exit_code == 2 and "--since: 'yesterday' is not an ISO 8601" in r.stderr


def test_explain_db_tells_what_the_channel_did(db: str) -> None:
    project = str(Path(db).parent / "p")
    r = runner.invoke(app, ["explain", project, "c1", "--db", db])
    assert r.exit_code == 0, r.stderr
    text = r.stdout
    assert "sent: confirmed via email; delivered 2026-11-02 10:05 KST" in text
    assert "failed: offer via hook; failed after 1 attempt(s): webhook hook: HTTP 400" in text
    assert "sent: offer via hook" not in text
    assert "retrying: nudge via busy; attempt 1 failed: webhook busy: HTTP 503" in text
    assert "; next attempt 2026-11-02 10:" in text
    r = runner.invoke(app, ["explain", project, "c1", "--db", db, "--format", "json"])
    doc = json.loads(r.stdout)
    by_step = {m["step"]: m for m in doc["messages"]}
    assert by_step["confirmed"]["status"] == "sent"
    assert by_step["confirmed"]["delivered_at"] == "2026-11-02T10:05:00+09:00"
    assert by_step["offer"]["status"] == "failed"
    assert by_step["offer"]["error"].startswith("webhook hook: HTTP 400")
    assert by_step["nudge"]["status"] == "retrying" and by_step["nudge"]["next_attempt_at"]
    kinds = {
        d["detail"].split(" via ")[0]: d["kind"] for d in doc["decisions"] if " via " in d["detail"]
    }
    assert kinds == {"confirmed": "sent", "offer": "failed", "nudge": "retrying"}
