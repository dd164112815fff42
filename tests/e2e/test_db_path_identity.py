"""Exactly once whatever the path (issue 13): two runs on one database, named through a
symlink, a symlinked directory, or a relative and an absolute path, never both deliver.

The real CLI in subprocesses, a real SQLite file and a local webhook that holds the first
request until the test lets it go, so the runs overlap for sure (no timing involved): the
second run starts while the first is mid-delivery with every message claimed.

SQLite only: the subject is a file's identity through paths (a URL names one database).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from journeyctl.engine.model import Contact, Event
from journeyctl.run.imports import import_contacts, import_events
from journeyctl.store.sqlite import SqliteStore
from tests.builders import build_tree
from tests.e2e.project import START

NOW = START.isoformat()
CONTACTS = 40  # two messages each
REPO = Path(__file__).resolve().parents[2]

# A transactional sequence: no unsubscribe links, so no secret is needed for these runs.
NOTICE = """
sequence: notice
trigger: {event: go}
ad: false
transactional: true
steps:
  - send: one
    channel: hook
    subject: "one {{ contact.name }}"
    body: "first"
  - send: two
    channel: hook
    subject: "two {{ contact.name }}"
    body: "second"
"""


class Gate:
    """What the webhook received (Idempotency-Key per request, in order); the very first
    request waits until `release` is set."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.first = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the channel uses it
    server: _Server

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        gate = self.server.gate
        with gate.lock:
            gate.keys.append(self.headers.get("Idempotency-Key", "?"))
            first = len(gate.keys) == 1
        if first:
            gate.first.set()
            gate.release.wait(300)
        try:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except OSError:
            pass  # the client was killed

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    gate: Gate


@pytest.fixture
def hook() -> Iterator[tuple[str, Gate]]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.gate = Gate()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", server.gate
    finally:
        server.gate.release.set()
        server.shutdown()
        server.server_close()


def setup(tmp_path: Path, url: str) -> tuple[Path, Path]:
    """The project and its database (data/j.db), contacts and events imported."""
    journey = (
        "timezone: Asia/Seoul\nchannels:\n"
        f'  hook: {{type: webhook, url: "{url}", medium: email, timeout: 600}}\n'
    )
    root = build_tree(tmp_path / "project", {"journey.yaml": journey, "notice.yaml": NOTICE})
    db = tmp_path / "data" / "j.db"
    db.parent.mkdir()
    store = SqliteStore(db)
    people = [Contact(f"c{i:03d}", f"c{i}@example.com", name=f"N{i}") for i in range(CONTACTS)]
    import_contacts(store, people, START)
    import_events(store, [Event(c.id, "go", START) for c in people], START, timedelta(days=1))
    store.close()
    return root, db


def start_run(root: Path, db: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "JOURNEYCTL_NO_FASTPATH": "1"}
    cmd = [sys.executable, "-m", "journeyctl", "run", str(root), "--db", db, "--now", NOW]
    return subprocess.Popen(
        [*cmd, "--format", "json"], cwd=cwd, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def ledger_states(db: Path) -> Counter[str]:
    conn = sqlite3.connect(db)
    try:
        return Counter(r[0] for r in conn.execute("SELECT state FROM ledger"))
    finally:
        conn.close()


def other_name(tmp_path: Path, db: Path, how: str) -> tuple[str, Path]:
    """Another way to name `db`: (the --db value, the directory the run starts in)."""
    if how in ("symlinked file", "relative path through a symlink"):
        (tmp_path / "alias").mkdir()
        (tmp_path / "alias" / "j.db").symlink_to(Path("..") / "data" / "j.db")
        if how == "symlinked file":
            return "alias/j.db", tmp_path
        return "j.db", tmp_path / "alias"
    if how == "symlinked directory":
        (tmp_path / "current").symlink_to(db.parent)
        return str(tmp_path / "current" / "j.db"), tmp_path
    assert how == "relative path"
    return "j.db", db.parent


@pytest.mark.parametrize(
    "how",
    [
        "symlinked file",  # the case of issue 13: 84-299 duplicates per 100-300 messages
        "relative path through a symlink",
        # These two already shared the lock file (the kernel resolves the path to one file):
        "symlinked directory",
        "relative path",
    ],
)
def test_two_runs_through_two_names_of_one_db_deliver_once(
    tmp_path: Path, hook: tuple[str, Gate], how: str
) -> None:
    url, gate = hook
    root, db = setup(tmp_path, url)
    name, cwd = other_name(tmp_path, db, how)
    first = start_run(root, str(db), tmp_path)  # the absolute path
    try:
        assert gate.first.wait(120), first.communicate()  # mid-delivery, everything claimed
        second = start_run(root, name, cwd)
        out, err = second.communicate(timeout=120)
    finally:
        gate.release.set()
    first_out, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err
    assert second.returncode == 0, err
    assert "another run holds the lock" in err
    assert json.loads(out)["locked"] is True
    assert json.loads(first_out)["delivered"] == 2 * CONTACTS
    received = Counter(gate.keys)
    assert len(received) == 2 * CONTACTS  # 0 lost
    assert sum(received.values()) - len(received) == 0  # 0 duplicates
    assert ledger_states(db) == Counter({"sent": 2 * CONTACTS})


def test_a_run_killed_through_a_symlink_is_recovered_at_once_through_the_real_path(
    tmp_path: Path, hook: tuple[str, Gate]
) -> None:
    """kill -9 keeps its guarantee: the next run, whatever path it is given, holds the lock
    the dead run held, so the dead run's claims go out at once (no lease to wait for), the
    one in flight repeated at most (SPEC §5)."""
    url, gate = hook
    root, db = setup(tmp_path, url)
    name, cwd = other_name(tmp_path, db, "symlinked file")
    first = start_run(root, name, cwd)
    assert gate.first.wait(120), first.communicate()
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=120)
    gate.release.set()
    assert ledger_states(db) == Counter({"attempting": 2 * CONTACTS})
    second = start_run(root, str(db), tmp_path)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    report = json.loads(out)
    assert (report["recovered"], report["delivered"]) == (2 * CONTACTS, 2 * CONTACTS)
    assert ledger_states(db) == Counter({"sent": 2 * CONTACTS})
    received = Counter(gate.keys)
    assert len(received) == 2 * CONTACTS
    assert [k for k, n in received.items() if n > 1] == [gate.keys[0]]  # the one in flight
