"""Many workers on one PostgreSQL (issue 18): four `journeyctl run` processes, re-run as cron
would, and two listeners (`serve --http --no-tick`) taking the contacts and events, deliver
20,000 messages to a shared file outbox and a real webhook receiver while workers are killed
with SIGKILL at random and the server restarts half-way. Every message is delivered exactly
once: the ledger, the outbox and the receiver agree key for key.

The webhook receiver drops a repeated Idempotency-Key, as SPEC §5 asks of receivers: a worker
killed between the receiver's 200 and its `sent` mark leaves a delivery that recovery sends
again with the same key (no channel can tell a lost reply from a lost request). The file
outbox reconciles those itself: each key is written once.

The kill schedule comes from a seeded generator; the seed is printed (`-s` shows it) and
JOURNEYCTL_KILL_SEED replays one.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.builders import build_tree
from tests.listener.conftest import API_TOKEN, SECRET, Server

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CONTACTS = 4_000
SENDS = 5  # per contact: three to the outbox, two to the webhook
MESSAGES = CONTACTS * SENDS
WORKERS = 4
DEADLINE_S = 420
# A worker killed every few seconds: often enough to land inside claims and deliveries, not
# so often that no run gets to finish its batch.
KILL_EVERY_S = (4.0, 8.0)
# Each run bounded (`run --limit`), as a cron line on many hosts would be: the due work is
# shared among the workers batch by batch, and a kill loses one batch, not all of it.
LIMIT = 500

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: "${{UNSUBSCRIBE_SECRET}}"
channels:
  outbox: {{type: file, path: outbox/, medium: email}}
  hook: {{type: webhook, url: "http://127.0.0.1:{port}/hook", medium: email, timeout: 10}}
"""
ORDERS = """
sequence: order
trigger: {event: ordered}
ad: false
transactional: true
reentry: always
steps:
  - send: received
    channel: outbox
    subject: "Order received"
    body: "received"
  - send: paid
    channel: hook
    subject: "Payment"
    body: "paid"
  - send: packed
    channel: outbox
    subject: "Packed"
    body: "packed"
  - send: shipped
    channel: hook
    subject: "Shipped"
    body: "shipped"
  - send: delivered
    channel: outbox
    subject: "Delivered"
    body: "delivered"
"""


class Receiver:
    """A real HTTP server taking webhook deliveries: every request's Idempotency-Key."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer._lock:
                    outer.keys.append(self.headers.get("Idempotency-Key", "?"))
                # One write: a status line and a body in two segments would wait for the
                # client's delayed ACK (Nagle), 40 ms a delivery.
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

            def log_message(self, *args: Any) -> None:
                pass

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a worker killed mid-request resets its connection: expected here

        self.server = Quiet(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Workers:
    """`WORKERS` slots, each running `journeyctl run` again as soon as the last one ended (a
    cron line every instant), until `stop()`; `kill()` SIGKILLs a running one."""

    def __init__(self, project: Path, url: str, env: dict[str, str], logs: Path) -> None:
        self.cmd = [sys.executable, "-m", "journeyctl", "run", str(project), "--db", url]
        self.cmd += ["--limit", str(LIMIT)]
        self.logs = logs
        self.env = env
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * WORKERS
        self.exits: Counter[int] = Counter()
        self.runs = 0
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._slot, args=(i,), daemon=True) for i in range(WORKERS)
        ]
        for t in self._threads:
            t.start()

    def _slot(self, i: int) -> None:
        log = (self.logs / f"worker{i}.log").open("ab")
        while not self.stopping.is_set():
            proc = subprocess.Popen(
                self.cmd, cwd=ROOT, env=self.env, stdout=log, stderr=log,
            )  # fmt: skip
            with self._lock:
                self.procs[i] = proc
            code = proc.wait()
            with self._lock:
                self.procs[i] = None
                self.exits[code] += 1
                self.runs += 1
            if code != 0:
                time.sleep(0.2)  # the server restarting: cron's next minute, sooner
        log.close()

    def tail(self) -> str:
        """The end of each slot's output (stdout and stderr of its runs)."""
        return "\n".join(
            f"worker{i}: ..." + (self.logs / f"worker{i}.log").read_text(errors="replace")[-1500:]
            for i in range(WORKERS)
        )

    def kill(self, rng: random.Random) -> bool:
        with self._lock:
            running = [p for p in self.procs if p is not None and p.poll() is None]
            if not running:
                return False
            rng.choice(running).send_signal(signal.SIGKILL)
            return True

    def stop(self) -> None:
        self.stopping.set()
        for t in self._threads:
            t.join(timeout=120)


def _post(servers: list[Server], path: str, items: list[dict[str, Any]], n: int) -> None:
    """POST a batch to one listener, trying the other while the database restarts (the
    imports are idempotent: a batch sent twice adds nothing)."""
    import httpx

    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    for attempt in range(200):
        server = servers[(n + attempt) % len(servers)]
        try:
            r = httpx.post(server.url + path, json=items, headers=auth, timeout=30)
        except httpx.HTTPError:
            r = None
        if r is not None and r.status_code == 200:
            return
        time.sleep(0.25)
    raise AssertionError(f"{path}: no listener took the batch: {r and r.text}")


def _ledger(url: str) -> list[tuple[str, str, str]]:
    import psycopg

    with psycopg.connect(url) as conn:
        return [
            (str(k), str(c), str(s))
            for k, c, s in conn.execute("SELECT key, channel, state FROM ledger ORDER BY id")
        ]


def _sent(url: str) -> int:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SELECT count(*) FROM ledger WHERE state = 'sent'").fetchone()
            return int(row[0]) if row else 0
    except psycopg.OperationalError:
        return -1  # restarting


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_four_workers_two_listeners_kills_and_a_restart_deliver_each_message_once(
    tmp_path: Path, pg_cluster: Any, pg_url: str, receiver: Receiver
) -> None:
    seed = int(os.environ.get("JOURNEYCTL_KILL_SEED", "18"))
    print(f"kill seed: {seed} (JOURNEYCTL_KILL_SEED={seed} replays it)")
    rng = random.Random(seed)
    project = tmp_path / "p"
    build_tree(
        tmp_path,
        {"p/journey.yaml": JOURNEY.format(port=receiver.port), "p/order.yaml": ORDERS},
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEYCTL_")}
    env.update(UNSUBSCRIBE_SECRET=SECRET, JOURNEYCTL_API_TOKEN=API_TOKEN, PYTHONPATH=str(ROOT))
    started = time.monotonic()
    listeners = [Server(project, pg_url, "--no-tick", env=env) for _ in range(2)]  # type: ignore[arg-type]
    workers = Workers(project, pg_url, env, tmp_path)
    kills = 0
    next_kill = time.monotonic() + rng.uniform(*KILL_EVERY_S)
    # Kills also come with progress (each eighth of the messages sent), not only with time:
    # on a fast day the messages go out before many timed kills come.
    eighths = [MESSAGES * k // 8 for k in range(1, 8)]
    next_note = 0.0
    restarted_at: int | None = None
    try:
        ids = [f"c{i:05d}" for i in range(CONTACTS)]
        batch = 500
        for n, i in enumerate(range(0, CONTACTS, batch)):
            part = ids[i : i + batch]
            _post(
                listeners, "/v1/contacts", [{"id": c, "email": f"{c}@example.com"} for c in part], n
            )
            at = datetime.now(UTC).isoformat()
            _post(
                listeners,
                "/v1/events",
                [{"contact_id": c, "event": "ordered", "at": at} for c in part],
                n,
            )
        print(f"contacts and events posted in {time.monotonic() - started:.0f}s")
        # Kill workers at random while the messages go out; restart the server half-way.
        while True:
            sent = _sent(pg_url)
            if sent >= MESSAGES:
                break
            assert time.monotonic() - started < DEADLINE_S, (
                f"only {sent} of {MESSAGES} sent\n{workers.tail()}"
            )
            if restarted_at is None and sent >= MESSAGES // 2:
                restarted_at = sent
                pg_cluster.restart("fast")
            time.sleep(0.5)
            if time.monotonic() >= next_note:
                next_note = time.monotonic() + 10
                print(f"{time.monotonic() - started:.0f}s: {sent} sent, {kills} killed")
            progressed = bool(eighths) and sent >= eighths[0]
            while eighths and sent >= eighths[0]:
                eighths.pop(0)
            if progressed or time.monotonic() >= next_kill:
                next_kill = time.monotonic() + rng.uniform(*KILL_EVERY_S)
                if workers.kill(rng):
                    kills += 1
        alive = [s.proc.poll() is None for s in listeners]
    finally:
        workers.stop()
        codes = [s.stop() for s in listeners]
    elapsed = time.monotonic() - started
    print(
        f"{MESSAGES} messages in {elapsed:.0f}s: {workers.runs} runs, {kills} killed, "
        f"restart at {restarted_at} sent, exits {dict(workers.exits)}"
    )
    assert kills >= 3 and restarted_at is not None  # the sweep really killed workers
    # The listeners carried on through the restart; a worker that lost the server exited
    # with an environment error (1), never an internal one (3).
    assert alive == [True, True] and codes == [0, 0]
    assert set(workers.exits) <= {0, 1, -signal.SIGKILL}, workers.exits

    ledger = _ledger(pg_url)
    assert len(ledger) == MESSAGES
    assert Counter(state for _, _, state in ledger) == {"sent": MESSAGES}
    by_channel = {ch: {k for k, c, _ in ledger if c == ch} for ch in ("outbox", "hook")}
    assert len(by_channel["outbox"]) == CONTACTS * 3 and len(by_channel["hook"]) == CONTACTS * 2

    lines = (project / "outbox" / "outbox.jsonl").read_text(encoding="utf-8").splitlines()
    written = [json.loads(x)["key"] for x in lines if x.endswith('"delivered": true}')]
    assert len(written) == len(set(written)), "a key written twice to the outbox"
    assert set(written) == by_channel["outbox"]

    received = Counter(receiver.keys)
    assert set(received) == by_channel["hook"]
    repeats = sum(n - 1 for n in received.values())
    print(f"webhook repeats dropped by Idempotency-Key: {repeats}")
    # Only a delivery whose worker died before its `sent` mark comes again.
    assert repeats <= kills * 1000
