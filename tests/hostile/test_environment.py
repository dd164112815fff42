"""Environment errors are not bugs (issue 14, items 4 and 5).

A damaged, newer, foreign, read-only or missing database, an out-of-range `--now` and a full
disk each end in exit 1 or 2 with one line that names the file and says what to do: no
traceback, nothing changed, and the next run recovers. `serve` stops cleanly on a SIGTERM that
lands in the middle of its first tick. Secrets in webhook URLs never reach stderr, the ledger,
`status` or `messages`; control characters from contacts and channels are shown, not obeyed;
the database and the outbox are created 0600.

Real SQLite files, and the CLI as a user runs it (CliRunner, or a subprocess where the entry
point, signals or a real full disk matter).

SQLite only: damaged, read-only and full files (PostgreSQL's errors:
tests/store/test_postgres.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from tests.builders import build_tree

_register()
runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: test-only-unsubscribe-secret
channels:
  email: {type: file, path: outbox/, medium: email}
"""
WELCOME = """
sequence: welcome
trigger: {event: subscribed}
ad: false
steps:
  - send: hello
    channel: email
    subject: "Hi {{ contact.name }}"
    body: "hello {{ contact.name }}"
"""
CONTACTS = "id,email,phone,name,timezone\nc1,c1@example.com,01011112222,Kim,Asia/Seoul\n"
EVENTS = "contact_id,event,at\nc1,subscribed,2026-11-02T10:00:00+09:00\n"
NOW = "2026-11-02T12:00:00+09:00"


def invoke(*args: str | Path) -> Any:
    # Wide enough that rich does not cut table cells short (the test reads them whole).
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "400"})


def assert_clean_failure(result: Any, code: int, *needles: str) -> str:
    """Exit `code` with one `error:` line holding every needle; no trace, no 'report a bug'."""
    out = result.output
    assert result.exit_code == code, out
    assert "Traceback" not in out and "internal error" not in out, out
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out
    for needle in needles:
        assert needle in errors[0], out
    return errors[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def integrity(db: Path) -> str:
    with closing(sqlite3.connect(db)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    build_tree(tmp_path, {
        "p/journey.yaml": JOURNEY, "p/welcome.yaml": WELCOME,
        "contacts.csv": CONTACTS, "events.csv": EVENTS,
    })  # fmt: skip
    return tmp_path


def first_run(proj: Path, db: Path) -> None:
    r = invoke("run", proj / "p", "--db", db, "--contacts", proj / "contacts.csv",
               "--events", proj / "events.csv", "--now", NOW)  # fmt: skip
    assert r.exit_code == 0, r.output


def spoil_page(db: Path, table: str) -> None:
    """Overwrite the root page of `table` with garbage (a bad sector, a torn copy)."""
    with closing(sqlite3.connect(db)) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        (page,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)
        ).fetchone()
    with open(db, "r+b") as fh:
        fh.seek((page - 1) * size)
        fh.write(b"\xa5" * size)


# --- the database file --------------------------------------------------------------------


@pytest.mark.parametrize("table", ["ledger", "contact_state"])
def test_page_corrupted_db_is_exit_1_naming_the_file_and_left_as_it_was(
    proj: Path, table: str
) -> None:
    db = proj / "state.db"
    first_run(proj, db)
    spoil_page(db, table)
    before = digest(db)
    # `run` with nothing due used to exit 0 on a spoiled ledger page, `status` to say
    # "internal error"; both now stop before anything is read or written.
    for args in (
        ("status", "--db", db),
        ("messages", "--db", db, "--status", "all"),
        ("report", "--db", db),
        ("run", proj / "p", "--db", db, "--now", "2026-11-05"),
        ("run", proj / "p", "--db", db, "--contacts", proj / "contacts.csv", "--now", NOW),
    ):
        line = assert_clean_failure(invoke(*args), 1, str(db), "damaged", ".recover")
        assert "\n" not in line
    assert digest(db) == before


def test_newer_schema_is_exit_1_and_the_file_is_not_touched(proj: Path) -> None:
    db = proj / "state.db"
    first_run(proj, db)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA user_version = 99")
    before = digest(db)
    for args in (("status", "--db", db), ("run", proj / "p", "--db", db, "--now", NOW)):
        assert_clean_failure(invoke(*args), 1, str(db), "schema version 99", "upgrade journeyctl")
    assert digest(db) == before
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 99


def test_a_file_that_is_not_a_database_is_exit_1(proj: Path) -> None:
    db = proj / "contacts.csv"  # --db pointed at the wrong file
    before = digest(db)
    for args in (("status", "--db", db), ("run", proj / "p", "--db", db, "--now", NOW)):
        assert_clean_failure(invoke(*args), 1, str(db), "not a journeyctl database")
    assert digest(db) == before


@pytest.mark.parametrize(
    "args",
    [
        ("status",),
        ("messages",),
        ("report",),
        ("plan", "{p}"),
        ("explain", "{p}", "c1"),
    ],
)
def test_reading_commands_never_create_a_missing_database(
    proj: Path, args: tuple[str, ...]
) -> None:
    db = proj / "nowhere.db"
    r = invoke(*(a.format(p=proj / "p") for a in args), "--db", db)
    assert_clean_failure(r, 2, str(db))
    assert not db.exists()


class ReadOnly:
    """Make paths unwritable the way the machine allows: chmod for a user, the immutable
    attribute for root (whom file modes do not stop)."""

    def __init__(self) -> None:
        self.held: list[Path] = []

    def make(self, path: Path) -> None:
        if os.geteuid() != 0:
            path.chmod(0o500 if path.is_dir() else 0o400)
        elif subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("root, and no chattr +i on this filesystem")
        self.held.append(path)

    def undo(self, path: Path) -> None:
        if os.geteuid() != 0:
            path.chmod(0o700 if path.is_dir() else 0o600)
        else:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        self.held.remove(path)


@pytest.fixture
def read_only() -> Iterator[ReadOnly]:
    ro = ReadOnly()
    yield ro
    for path in reversed(ro.held[:]):
        ro.undo(path)


def test_read_only_database_is_exit_1_and_the_next_run_recovers(
    proj: Path, read_only: ReadOnly
) -> None:
    db = proj / "state.db"
    first_run(proj, db)
    read_only.make(db)
    r = invoke("run", proj / "p", "--db", db, "--contacts", proj / "contacts.csv", "--now", NOW)
    assert_clean_failure(r, 1, str(db), "read-only", "write access")
    read_only.undo(db)
    r = invoke("run", proj / "p", "--db", db, "--contacts", proj / "contacts.csv", "--now", NOW)
    assert r.exit_code == 0, r.output
    assert integrity(db) == "ok"


def test_read_only_directory_is_exit_1_naming_the_file(proj: Path, read_only: ReadOnly) -> None:
    (proj / "ro").mkdir()
    db = proj / "ro" / "state.db"
    first_run(proj, db)
    read_only.make(db.parent)
    for args in (("status", "--db", db), ("run", proj / "p", "--db", db, "--now", "2026-11-05")):
        assert_clean_failure(invoke(*args), 1, str(db), "state.db-wal")


# --- the clock ----------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["9999-12-31", "0001-01-01", "9999-12-31T23:59:59+09:00"])
def test_out_of_range_now_is_a_usage_error(proj: Path, when: str) -> None:
    db = proj / "state.db"
    first_run(proj, db)
    before = digest(db)
    for args in (
        ("run", proj / "p", "--db", db, "--now", when),
        ("run", proj / "p", "--db", db, "--contacts", proj / "contacts.csv", "--now", when),
        ("status", "--db", db, "--now", when),
        ("messages", "--db", db, "--since", when),
    ):
        assert_clean_failure(invoke(*args), 2, when, "out of range")
    assert digest(db) == before


def test_out_of_range_now_through_the_idle_fast_path(proj: Path) -> None:
    """`run` with only --db and --now is answered by journeyctl.run.idle before typer loads:
    `--now 0001-01-01` there was a bare traceback."""
    db = proj / "state.db"
    cmd = [sys.executable, "-m", "journeyctl", "run", str(proj / "p"), "--db", str(db)]
    env = {**os.environ, "JOURNEYCTL_DEBUG": "0"}
    setup = subprocess.run([*cmd, "--now", NOW], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=120)  # fmt: skip
    assert setup.returncode == 0, setup.stderr
    for when in ("0001-01-01", "9999-12-31"):
        r = subprocess.run([*cmd, "--now", when], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=120)  # fmt: skip
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr and "out of range" in r.stderr, r.stderr


# --- a full disk --------------------------------------------------------------------------

MANY = "id,email,name,timezone\n" + "".join(
    f"x{i},x{i}@example.com,{'N' * 60},Asia/Seoul\n" for i in range(3000)
)


def _contacts(db: Path) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT count(*) FROM contacts").fetchone()[0])


def test_full_database_is_exit_1_rolled_back_and_the_next_run_recovers(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLITE_FULL from SQLite itself, without root: the store's connection is capped a few
    pages above the file's size (PRAGMA max_page_count), so the import does not fit."""
    from journeyctl.store.sqlite import connection

    db = proj / "state.db"
    first_run(proj, db)
    (proj / "many.csv").write_text(MANY, encoding="utf-8")
    real_connect = connection._connect

    def capped(path: Path, busy_timeout_ms: int, stamped: bool = False) -> sqlite3.Connection:
        conn = real_connect(path, busy_timeout_ms, stamped)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 4}")
        return conn

    monkeypatch.setattr(connection, "_connect", capped)
    args = ("run", proj / "p", "--db", db, "--contacts", proj / "many.csv", "--now", NOW)
    assert_clean_failure(invoke(*args), 1, str(db), "disk is full", "run again")
    assert integrity(db) == "ok"
    assert _contacts(db) == 1  # the import was one transaction, rolled back whole
    monkeypatch.setattr(connection, "_connect", real_connect)
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    assert _contacts(db) == 3001


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs, where the machine lets us mount one (root); else skipped (the test
    above injects the same SQLITE_FULL everywhere)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                          capture_output=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_really_full_disk_is_exit_1_and_the_next_run_recovers(proj: Path, tiny_disk: Path) -> None:
    db = tiny_disk / "state.db"
    first_run(proj, db)
    (proj / "many.csv").write_text(MANY, encoding="utf-8")
    args = ("run", proj / "p", "--db", db, "--contacts", proj / "many.csv", "--now", NOW)
    cmd = [sys.executable, "-m", "journeyctl", *map(str, args)]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    assert f"error: {db}: the disk is full" in r.stderr, r.stderr
    assert integrity(db) == "ok"
    assert _contacts(db) == 1
    # Room made: the next run imports it all.
    subprocess.run(["mount", "-o", "remount,size=8m", str(tiny_disk)], check=True)
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert _contacts(db) == 3001
    assert integrity(db) == "ok"


# --- serve and SIGTERM --------------------------------------------------------------------


class _Gate(BaseHTTPRequestHandler):
    """Webhook receiver whose first POST blocks until the test opens the gate."""

    opened = threading.Event()
    arrived = threading.Event()
    keys: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).keys.append(self.headers.get("Idempotency-Key", ""))
        type(self).arrived.set()
        type(self).opened.wait(timeout=60)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def gate() -> Iterator[tuple[str, type[_Gate]]]:
    class handler(_Gate):  # fresh events and keys for this test
        opened = threading.Event()
        arrived = threading.Event()
        keys: ClassVar[list[str]] = []

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", handler
    finally:
        handler.opened.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_sigterm_during_the_first_tick_of_serve_stops_cleanly(
    tmp_path: Path, gate: tuple[str, type[_Gate]]
) -> None:
    url, handler = gate
    build_tree(tmp_path, {
        "p/journey.yaml": JOURNEY.replace(
            "email: {type: file, path: outbox/, medium: email}",
            f'hook: {{type: webhook, url: "{url}", medium: sms, timeout: 30}}',
        ),
        "p/welcome.yaml": WELCOME.replace("channel: email", "channel: hook"),
        "contacts.csv": CONTACTS + "c2,c2@example.com,01011113333,Lee,Asia/Seoul\n",
    })  # fmt: skip
    # serve ticks on the wall clock: the contacts subscribed a minute ago.
    at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    (tmp_path / "events.csv").write_text(
        f"contact_id,event,at\nc1,subscribed,{at}\nc2,subscribed,{at}\n", encoding="utf-8"
    )
    db = tmp_path / "state.db"
    for kind in ("contacts", "events"):
        r = invoke(
            kind, "import", tmp_path / f"{kind}.csv", "--db", db, "--project", tmp_path / "p"
        )
        assert r.exit_code == 0, r.output
    proc = subprocess.Popen(
        [sys.executable, "-m", "journeyctl", "serve", str(tmp_path / "p"), "--db", str(db)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert handler.arrived.wait(timeout=60), "the first tick never reached the webhook"
        proc.send_signal(signal.SIGTERM)  # the tick is inside a delivery
        handler.opened.set()
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert err.rstrip().endswith("stopped"), err
    assert integrity(db) == "ok"
    # The next run delivers whatever was left, and nothing twice.
    r = invoke("run", tmp_path / "p", "--db", db)
    assert r.exit_code == 0, r.output
    with closing(sqlite3.connect(db)) as conn:
        states = [s for (s,) in conn.execute("SELECT state FROM ledger")]
    assert states == ["sent", "sent"]
    assert sorted(set(handler.keys)) == sorted(handler.keys) and len(handler.keys) == 2


# --- secrets and control characters -------------------------------------------------------

PASSWORD, TOKEN = "Sup3rS3cretPw", "T0k3nValue"
EVIL = "\x1b]0;owned\x07\x1b[31mKim\x9b2J"  # OSC retitle, CSI colour, C1 CSI clear-screen


class _Refuse(BaseHTTPRequestHandler):
    """A receiver that refuses, echoing the request line (as real ones do) and escapes."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = f"\x1b]52;c;b3duZWQ=\x07denied: http://alice:{PASSWORD}@x{self.path}".encode()
        self.send_response(403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def refusing() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Refuse)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _no_secret_no_escape(text: str) -> None:
    assert PASSWORD not in text and TOKEN not in text, text
    assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text, repr(text)


def _everything_shown(db: Path) -> list[str]:
    outs = [
        invoke("status", "--db", db).output,
        invoke("status", "--db", db, "--format", "json").output,
    ]
    for status in ("all", "failed"):
        outs.append(invoke("messages", "--db", db, "--status", status).output)
        outs.append(invoke("messages", "--db", db, "--status", status, "--format", "json").output)
    return outs


@pytest.mark.parametrize("bad_scheme", [False, True])
def test_refused_webhook_credentials_never_shown_or_stored(
    tmp_path: Path, refusing: int, bad_scheme: bool
) -> None:
    scheme = "ftp" if bad_scheme else "http"  # refused by journeyctl, or by the receiver
    url = f"{scheme}://alice:{PASSWORD}@127.0.0.1:{refusing}/hook?token={TOKEN}"
    build_tree(tmp_path, {
        "p/journey.yaml": JOURNEY.replace(
            "email: {type: file, path: outbox/, medium: email}",
            f'hook: {{type: webhook, url: "{url}", medium: sms, timeout: 10}}',
        ),
        "p/welcome.yaml": WELCOME.replace("channel: email", "channel: hook"),
        "contacts.csv": CONTACTS, "events.csv": EVENTS,
    })  # fmt: skip
    db = tmp_path / "state.db"
    r = invoke("run", tmp_path / "p", "--db", db, "--contacts", tmp_path / "contacts.csv",
               "--events", tmp_path / "events.csv", "--now", NOW, "--format", "json")  # fmt: skip
    assert "Traceback" not in r.output
    _no_secret_no_escape(r.output)
    with closing(sqlite3.connect(db)) as conn:
        stored = "\n".join(
            str(row) for table in ("ledger", "runs", "meta")
            for row in conn.execute(f"SELECT * FROM {table}")
        )  # fmt: skip
    assert PASSWORD not in stored and TOKEN not in stored
    with closing(sqlite3.connect(db)) as conn:
        errors = [e for (e,) in conn.execute("SELECT error FROM ledger") if e]
    assert len(errors) == 1, errors
    assert ("***@127.0.0.1" if bad_scheme else "HTTP 403") in errors[0], errors
    for out in _everything_shown(db):
        _no_secret_no_escape(out)


def test_control_characters_from_contacts_are_shown_not_obeyed(proj: Path) -> None:
    (proj / "contacts.csv").write_text(
        f"id,email,phone,name,timezone\nc1,c1@example.com,01011112222,{EVIL},Asia/Seoul\n",
        encoding="utf-8",
    )
    db = proj / "state.db"
    first_run(proj, db)
    outs = [invoke("messages", "--db", db).output, invoke("status", "--db", db).output]
    for fmt in ("table", "json"):
        outs.append(invoke("preview", proj / "p", "welcome", "hello", "--contact", "c1",
                           "--contacts", proj / "contacts.csv", "--format", fmt).output)  # fmt: skip
    outs.append(invoke("messages", "--db", db, "--format", "json").output)
    for out in outs:
        assert "\x1b" not in out and "\x9b" not in out and "\x07" not in out, repr(out)
    assert "\\x1b]0;owned\\x07\\x1b[31mKim\\x9b2J" in outs[0]  # shown, escaped
    doc = json.loads(outs[-1])
    assert doc[0]["subject"] == f"Hi {EVIL}"  # JSON keeps the value, escaped as \u009b
    preview_doc = json.loads(outs[3])
    assert preview_doc["text"].startswith(f"hello {EVIL}")


# --- file modes ---------------------------------------------------------------------------


def test_database_wal_shm_and_outbox_are_created_private(proj: Path) -> None:
    old = os.umask(0o022)
    try:
        db = proj / "state.db"
        first_run(proj, db)
        from journeyctl.store.sqlite import SqliteStore

        store = SqliteStore(db)  # holds the -wal and -shm files open
        try:
            store.set_meta("probe", "x")
            for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), proj / "p/outbox/email.jsonl"):
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        finally:
            store.close()
    finally:
        os.umask(old)
