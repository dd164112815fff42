"""SPEC §5, swept: the real CLI killed (SIGKILL) at every named point of the delivery path
(journeyctl/faults.py), at the first, a middle and the last time it gets there, for each kind
of channel (the file outbox on PostgreSQL too), then run again without the fault
until done. After every case, the oracle of
../shared/research/reliability.md §4.1:

- 0 lost: every message of the ledger is `sent` and reached the receiver;
- repeats only inside the documented window (the process died between the channel accepting
  a message and the `sent` record: `mid-send`, `after-accept`), at most one per crash, only
  for SMTP and webhooks, and it is the message in flight, carrying its key; the file outbox
  never repeats; every repeat is reported by the next run (`recovered`);
- `PRAGMA integrity_check` ok after every kill and every run (SQLite); nothing left
  `attempting`.

Kills are deterministic (a fault point, not a timer): no assertion depends on the machine's
speed. The receivers are real: an HTTP server recording each request's Idempotency-Key and an
aiosmtpd server recording each Message-ID, on 127.0.0.1; the file outbox's own file.

`JOURNEYCTL_LONG=1`: more contacts, more n per point, and both run modes for every point.
`JOURNEYCTL_SWEEP_SUMMARY=<file>`: write the figures as JSON (scripts/reliability_report.py).
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from journeyctl.channels.mime import message_id
from journeyctl.faults import POINTS, REPEAT_WINDOW
from journeyctl.store.postgres_url import is_postgres_url
from tests.builders import build_tree
from tests.channels.channel_servers import CountingController, SmtpRecorder, free_port
from tests.db import query
from tests.e2e.project import START

LONG = os.environ.get("JOURNEYCTL_LONG") == "1"
CONTACTS = 40 if LONG else 15  # two messages each
MESSAGES = 2 * CONTACTS
LIMIT = CONTACTS // 2  # `--limit`: the run that claims in its own transaction
NOW = START.isoformat()
DOMAIN = "example.com"
MAX_RECOVERY_RUNS = 3  # one suffices; a second would show a recovery that needs another
QUIET = 30.0  # seconds a receiver may take to see a dead client's connection close

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: test-only-unsubscribe-secret  # `run` refuses to start without one
channels:
  out: {channel}
"""

BURST = """
sequence: burst
trigger: {event: go}
steps:
  - send: one
    channel: out
    subject: "one {{ contact.name }}"
    body: "first"
  - send: two
    channel: out
    subject: "two {{ contact.name }}"
    body: "second"
"""


# --- receivers -------------------------------------------------------------------------------


class HookServer:
    """A webhook receiver recording the Idempotency-Key of every request it accepted (2xx)."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.live = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def finish(self) -> None:
                try:
                    super().finish()
                finally:
                    with outer._lock:
                        outer.live -= 1

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer._lock:
                    outer.keys.append(self.headers.get("Idempotency-Key", f"?{body[:40]!r}"))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def process_request(self, request: Any, client_address: Any) -> None:
                # Counted as accepted, before its thread starts: `quiet` cannot see a
                # connection that is neither pending nor live.
                with outer._lock:
                    outer.live += 1
                super().process_request(request, client_address)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def received(self) -> list[str]:
        with self._lock:
            return list(self.keys)

    def reset(self) -> None:
        with self._lock:
            self.keys.clear()

    def quiet(self) -> None:
        # A killed client's connection may still wait in the listen backlog (accepted at the
        # next poll), then be handled: both must be over before its deliveries are counted.
        def idle() -> bool:
            pending, _, _ = select.select([self.httpd.socket], [], [], 0)
            return self.live == 0 and not pending

        wait_until(idle, "the webhook receiver's connections to close")

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]*>)", re.MULTILINE | re.IGNORECASE)


class MailServer:
    """aiosmtpd on 127.0.0.1 recording the Message-ID of every message it accepted (250)."""

    def __init__(self) -> None:
        self.recorder = SmtpRecorder()
        self.controller = CountingController(self.recorder, hostname="127.0.0.1", port=free_port())
        self.controller.start()
        self.port = self.controller.port

    def received(self) -> list[str]:
        out = []
        for r in list(self.recorder.received):
            m = _MESSAGE_ID.search(r.content)
            out.append(m.group(1).decode() if m else "?no Message-ID")
        return out

    def reset(self) -> None:
        self.recorder.received.clear()

    def quiet(self) -> None:
        wait_until(lambda: not self.recorder.live, "the SMTP receiver's connections to close")

    def stop(self) -> None:
        self.controller.stop()


def wait_until(done: Any, what: str) -> None:
    """Wait for a condition a dead client makes true (its sockets closed by the kernel); the
    deadline only keeps a broken test from hanging."""
    deadline = time.monotonic() + QUIET
    while not done():
        assert time.monotonic() < deadline, f"waited {QUIET:g}s for {what}"
        time.sleep(0.005)


@dataclass
class Kind:
    name: str  # file, webhook, smtp
    server: HookServer | MailServer | None

    def channel(self) -> str:
        if isinstance(self.server, HookServer):
            url = f"http://127.0.0.1:{self.server.port}/hook"
            return f'{{type: webhook, url: "{url}", medium: email, timeout: 10}}'
        if isinstance(self.server, MailServer):
            return (
                f"{{type: smtp, host: 127.0.0.1, port: {self.server.port}, "
                f'from: "Journeys <noreply@{DOMAIN}>", timeout: 10}}'
            )
        return "{type: file, path: outbox/, medium: email}"

    def received(self, root: Path) -> list[str]:
        """What the receiver got, in order of arrival (keys, or Message-IDs for SMTP)."""
        if self.server is not None:
            self.server.quiet()
            return self.server.received()
        path = root / "outbox" / "out.jsonl"
        if not path.exists():
            return []
        return [
            json.loads(line)["key"]
            for line in path.read_bytes().splitlines(keepends=True)
            if line.endswith(b', "delivered": true}\n')  # a torn line is no delivery
        ]

    def reset(self) -> None:
        if self.server is not None:
            self.server.quiet()
            self.server.reset()

    @property
    def repeats_allowed(self) -> bool:
        """SMTP and webhooks cannot tell whether they have a message; the outbox can."""
        return self.server is not None


# --- the project and the runs ----------------------------------------------------------------


def project(tmp: Path, kind: Kind, db: str) -> tuple[Path, str]:
    root = build_tree(
        tmp / "project",
        {"journey.yaml": JOURNEY.replace("{channel}", kind.channel()), "burst.yaml": BURST},
    )
    people = "".join(f"c{i:04d},c{i}@{DOMAIN},N{i}\n" for i in range(CONTACTS))
    (tmp / "contacts.csv").write_text("id,email,name\n" + people, encoding="utf-8")
    events = "".join(f"c{i:04d},go,{NOW}\n" for i in range(CONTACTS))
    (tmp / "events.csv").write_text("contact_id,event,at\n" + events, encoding="utf-8")
    return root, db


@dataclass
class Outcome:
    code: int
    doc: dict[str, Any] = field(default_factory=dict)
    stderr: str = ""


def run(
    root: Path,
    db: str,
    *,
    fault: str | None = None,
    trace: Path | None = None,
    limit: int | None = None,
) -> Outcome:
    """`journeyctl run` with the data files (every run imports them again, as cron would)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("JOURNEYCTL_FAULT", "JOURNEYCTL_FAULT_TRACE")
    }
    if fault is not None:
        env["JOURNEYCTL_FAULT"] = fault
    if trace is not None:
        env["JOURNEYCTL_FAULT_TRACE"] = str(trace)
    data = root.parent
    cmd = [
        sys.executable, "-m", "journeyctl", "run", str(root), "--db", str(db), "--now", NOW,
        "--contacts", str(data / "contacts.csv"), "--events", str(data / "events.csv"),
        "--format", "json", *(("--limit", str(limit)) if limit else ()),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    doc = json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else {}
    return Outcome(proc.returncode, doc, proc.stderr)


def integrity(db: str) -> str:
    if is_postgres_url(db):
        return "ok"  # the server keeps its own pages
    if not Path(db).exists():
        return "ok"  # killed before the file was created: nothing to damage
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def ledger(db: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in query(db, "SELECT key, state FROM ledger")}


# --- the sweep -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    mode: str  # "batch": a run without --limit (claims committed with the decisions); "limit"
    faults: tuple[tuple[str, int], ...]  # one faulted run each, in order

    @property
    def point(self) -> str:
        return self.faults[-1][0]

    def __str__(self) -> str:
        return f"{self.mode} " + " then ".join(f"{p}:{n}" for p, n in self.faults)


def trace(tmp: Path, kind: Kind, mode: str, db: str) -> Counter[str]:
    """How many times a clean run reaches each point (the sweep's choice of n)."""
    kind.reset()
    root, db = project(tmp, kind, db)
    log = tmp / "trace.log"
    out = run(root, db, trace=log, limit=LIMIT if mode == "limit" else None)
    TRACED[0] += 1
    assert out.code == 0, out.stderr
    return Counter(log.read_text(encoding="utf-8").split())


def choose(count: int) -> list[int]:
    """n for a point reached `count` times: the first, the middle and the last (and more in
    the long run)."""
    picks = {1, (count + 1) // 2, count}
    if LONG:
        picks |= {2, count - 1, (count + 3) // 4, (3 * count + 3) // 4}
    return sorted(n for n in picks if 1 <= n <= count)


def cases(counts: dict[str, Counter[str]]) -> Iterator[Case]:
    batch_only = () if LONG else ("migration", "import", "advance", "attempting", "mid-send")
    for mode, reached in counts.items():
        for point in POINTS:
            if point == "recover":
                continue
            if mode == "limit" and point in batch_only:
                continue  # the same code in both modes: swept in one (both with LONG)
            for n in choose(reached[point]):
                yield Case(mode, ((point, n),))
        # `recover` is reached only by a run that finds a dead run's messages: kill a run
        # inside the repeat window, then the run recovering from it.
        middle = (reached["after-accept"] + 1) // 2
        yield Case(mode, (("after-accept", middle), ("recover", 1)))


@dataclass
class Tally:
    cases: int = 0
    kills: int = 0
    window_kills: int = 0  # kills at a point in the repeat window
    repeats: int = 0
    runs: int = 0


SUMMARY: dict[str, Any] = {"points": {}, "kinds": {}, "cases": 0, "runs": 0}
TRACED = [0]  # clean traced runs (choosing n)


def tally(kind: str, point: str, **add: int) -> None:
    for scope, name in (("points", point), ("kinds", kind)):
        entry = SUMMARY[scope].setdefault(name, Tally().__dict__.copy())
        for k, v in add.items():
            entry[k] += v


@pytest.fixture(scope="module", autouse=True)
def summary() -> Iterator[None]:
    yield
    path = os.environ.get("JOURNEYCTL_SWEEP_SUMMARY")
    if path:
        SUMMARY.update(long=LONG, messages=MESSAGES, contacts=CONTACTS, traced_runs=TRACED[0])
        Path(path).write_text(json.dumps(SUMMARY, indent=2, sort_keys=True), encoding="utf-8")


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, HookServer | MailServer | None]]:
    hook, mail = HookServer(), MailServer()
    try:
        yield {"file": None, "webhook": hook, "smtp": mail}
    finally:
        hook.stop()
        mail.stop()


def check_case(tmp: Path, kind: Kind, case: Case, db: str) -> None:
    kind.reset()
    root, db = project(tmp, kind, db)
    limit = LIMIT if case.mode == "limit" else None
    runs = 0
    in_flight: set[str] = set()  # the last message each killed run handed to the receiver
    for point, n in case.faults:
        before = len(kind.received(root))
        out = run(root, db, fault=f"{point}:{n}", limit=limit)
        runs += 1
        assert out.code == -signal.SIGKILL, f"{case}: not killed ({out.code}): {out.stderr}"
        tally(kind.name, point, kills=1, window_kills=int(point in REPEAT_WINDOW))
        assert integrity(db) == "ok", case
        got = kind.received(root)
        if point in REPEAT_WINDOW and len(got) > before:
            in_flight.add(got[-1])
    recovered = 0
    for _ in range(MAX_RECOVERY_RUNS):
        out = run(root, db)
        runs += 1
        assert out.code == 0, f"{case}: {out.stderr}"
        assert integrity(db) == "ok", case
        recovered += out.doc["recovered"]
        if set(ledger(db).values()) == {"sent"}:
            break
    states = ledger(db)
    assert Counter(states.values()) == Counter({"sent": MESSAGES}), case  # none left behind
    got = kind.received(root)
    if kind.name == "smtp":  # Message-IDs back to keys (stable per key: mime.message_id)
        by_id = {message_id(k, DOMAIN): k for k in states}
        in_flight = {by_id.get(m, m) for m in in_flight}
        got = [by_id.get(m, m) for m in got]
    delivered = Counter(got)
    assert set(delivered) - set(states) == set(), f"{case}: unknown deliveries"
    lost = set(states) - set(delivered)
    assert not lost, f"{case}: lost {sorted(lost)}"
    repeated = {k: c - 1 for k, c in delivered.items() if c > 1}
    repeats = sum(repeated.values())
    window_kills = sum(p in REPEAT_WINDOW for p, _ in case.faults)
    if not kind.repeats_allowed:
        assert repeats == 0, f"{case}: the outbox repeated {repeated}"
    else:
        assert repeats <= window_kills, f"{case}: repeats {repeated} outside the window"
        assert set(repeated) <= in_flight, f"{case}: {repeated} was not the message in flight"
        assert repeats <= recovered, f"{case}: a repeat the recovery run did not report"
    tally(kind.name, case.point, cases=1, repeats=repeats, runs=runs)
    SUMMARY["cases"] += 1
    SUMMARY["runs"] += runs


# PostgreSQL with the file outbox, which allows no repeat at all: the store's part (claims,
# recovery, the sent marks) is the same whatever the channel; the others add time, not cover.
@pytest.mark.parametrize(
    ("kind_name", "store_kind"),
    [("file", "sqlite"), ("webhook", "sqlite"), ("smtp", "sqlite"), ("file", "postgres")],
)  # fmt: skip
def test_kill_at_every_point_loses_nothing_and_repeats_only_in_the_window(
    tmp_path: Path,
    kind_name: str,
    servers: dict[str, HookServer | MailServer | None],
    new_db: Callable[[Path], str],
) -> None:
    kind = Kind(kind_name, servers[kind_name])
    counts = {
        mode: trace(tmp_path / f"trace-{mode}", kind, mode, new_db(tmp_path / f"trace-{mode}"))
        for mode in ("batch", "limit")
    }
    # Every point a clean run reaches, it reaches a known number of times.
    for mode, reached in counts.items():
        missing = set(POINTS) - set(reached) - {"recover"}
        assert not missing, f"{mode}: a clean run never reached {sorted(missing)}"
        assert reached["attempting"] == (MESSAGES if mode == "batch" else LIMIT)
    swept = list(cases(counts))
    for i, case in enumerate(swept):
        check_case(tmp_path / f"case{i:03d}", kind, case, new_db(tmp_path / f"case{i:03d}"))
    assert {c.point for c in swept} == set(POINTS)
