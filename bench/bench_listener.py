"""Benchmark the HTTP listener (journeyctl serve --http --no-tick) on this machine.

1. Events API: 4 clients POST batches of 100 events (JSON arrays) to /v1/events while `run`
   ticks back to back on the same database (cron beside the listener); events/s ingested =
   events committed / wall time. Goal (issue 16): >= 3,000 events/s per listener process.
2. One-click unsubscribe: POST /u/{token} (RFC 8058 body) at a steady 200 requests/s, open
   loop (each request starts on its schedule, whatever the others do), each for a different
   contact; latency from the request's scheduled start to its answer. Goal: p99 <= 50 ms.
3. The same number of events through `journeyctl events import FILE.csv` (the CSV import
   path, one process), for comparison.

    python bench/bench_listener.py [--events 40000] [--seconds 10] [--out bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import queue
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from journeyctl.engine.tokens import Claim, sign  # noqa: E402

SECRET = "bench-only-secret"
API_TOKEN = "bench-only-api-token"
JOURNEY = """timezone: Asia/Seoul
unsubscribe_secret: "${UNSUBSCRIBE_SECRET}"
http: {public_url: "https://mail.example.com"}
channels:
  email: {type: file, path: outbox/, medium: email}
"""
CART = """sequence: cart
trigger: {event: cart_abandoned}
steps: [{wait: 1h}, {send: reminder, channel: email, subject: "(광고) Cart", body: "{{ unsubscribe_url }}"}]
"""


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEYCTL_")}
    out.update(UNSUBSCRIBE_SECRET=SECRET, JOURNEYCTL_API_TOKEN=API_TOKEN, PYTHONPATH=str(ROOT))
    return out


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [sys.executable, "-m", "journeyctl", *map(str, args)],
        cwd=ROOT, env=env(), capture_output=True, text=True,
    )  # fmt: skip
    if out.returncode not in (0, 1):
        raise SystemExit(f"journeyctl {args[0]} failed: {out.stderr}")
    return out


def setup(work: Path, contacts: int) -> tuple[Path, Path]:
    project = work / "p"
    project.mkdir()
    (project / "journey.yaml").write_text(JOURNEY, encoding="utf-8")
    (project / "cart.yaml").write_text(CART, encoding="utf-8")
    csv = work / "contacts.csv"
    csv.write_text(
        "id,email\n" + "".join(f"c{i},c{i}@example.com\n" for i in range(contacts)),
        encoding="utf-8",
    )
    db = work / "state.db"
    cli("contacts", "import", csv, "--db", db, "--project", project)
    return project, db


class Listener:
    def __init__(self, project: Path, db: Path) -> None:
        cmd = [sys.executable, "-m", "journeyctl", "serve", str(project), "--db", str(db)]
        self.proc = subprocess.Popen(
            [*cmd, "--http", "127.0.0.1:0", "--no-tick"], cwd=ROOT, env=env(),
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._drain, args=(lines,), daemon=True).start()
        while True:
            line = lines.get(timeout=60)
            if line.startswith("listening on "):
                self.url = line.split()[-1]
                return

    def _drain(self, lines: queue.Queue[str]) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:  # the access log: read, so the pipe never fills
            lines.put(line)
            self.log.append(line)

    def served_ms(self, route: str) -> list[float]:
        """Time inside the listener per request of `route` (the access log's last field)."""
        return sorted(
            float(line.rsplit(" ", 1)[1].removesuffix("ms\n"))
            for line in self.log
            if f'"{route}" 200 ' in line
        )

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)


def count(db: Path, event: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(
            conn.execute("SELECT count(*) FROM events WHERE event = ?", (event,)).fetchone()[0]
        )


def ingest(
    listener: Listener, project: Path, db: Path, total: int, contacts: int
) -> dict[str, float]:
    """4 clients x batches of 100 while `run` ticks back to back."""
    clients, batch = 4, 100
    base = datetime.now(UTC) - timedelta(minutes=30)
    per = total // clients
    stop = threading.Event()
    ticks: list[float] = []

    def cron() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            cli("run", project, "--db", db)
            ticks.append(time.perf_counter() - t0)

    def client(n: int) -> None:
        host, port = listener.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        headers = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
        for b in range(per // batch):
            items = [
                {"contact_id": f"c{(n * per + b * batch + i) % contacts}", "event": "viewed",
                 "at": (base + timedelta(milliseconds=n * per + b * batch + i)).isoformat()}
                for i in range(batch)
            ]  # fmt: skip
            conn.request("POST", "/v1/events", body=json.dumps(items).encode(), headers=headers)
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                raise SystemExit(f"/v1/events answered {r.status}: {body[:300]!r}")
        conn.close()

    ticker = threading.Thread(target=cron)
    ticker.start()
    time.sleep(0.5)  # a tick under way
    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    stop.set()
    ticker.join()
    stored = count(db, "viewed")
    return {"events": stored, "wall": wall, "rate": stored / wall, "ticks": len(ticks)}


def one_click(listener: Listener, db: Path, seconds: float, contacts: int) -> dict[str, float]:
    """Open loop at 200 requests/s: request k starts at t0 + k/200."""
    rate = 200
    n = int(seconds * rate)
    paths = [
        "/u/" + sign(SECRET.encode(), Claim("u", "email", f"c{k % contacts}", f"{k:032x}"))
        for k in range(n)
    ]
    latencies: list[float] = [0.0] * n
    errors = 0
    t0 = time.perf_counter() + 0.5
    lock = threading.Lock()
    next_k = 0

    def worker() -> None:
        # stdlib http.client with keep-alive: the load generator must cost less CPU than the
        # server it measures (httpx takes ~4x the client CPU, README "Dependencies")
        nonlocal next_k, errors
        host, port = listener.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        while True:
            with lock:
                k = next_k
                next_k += 1
            if k >= n:
                conn.close()
                return
            start = t0 + k / rate
            delay = start - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            conn.request("POST", paths[k], body=b"List-Unsubscribe=One-Click", headers=headers)
            r = conn.getresponse()
            r.read()
            latencies[k] = time.perf_counter() - start
            if r.status != 200:
                with lock:
                    errors += 1

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ms = sorted(x * 1000 for x in latencies)
    inside = listener.served_ms("POST /u/{token}")
    return {
        "inside_p50": statistics.median(inside), "inside_p99": inside[int(0.99 * len(inside)) - 1],
        "requests": n, "errors": errors, "p50": statistics.median(ms),
        "p95": ms[int(0.95 * n) - 1], "p99": ms[int(0.99 * n) - 1], "max": ms[-1],
        "recorded": count(db, "unsubscribed"),
    }  # fmt: skip


def csv_import(work: Path, project: Path, total: int, contacts: int) -> dict[str, float]:
    base = datetime.now(UTC) - timedelta(minutes=30)
    csv = work / "events.csv"
    csv.write_text(
        "contact_id,event,at\n"
        + "".join(
            f"c{i % contacts},browsed,{(base + timedelta(milliseconds=i)).isoformat()}\n"
            for i in range(total)
        ),
        encoding="utf-8",
    )
    db = work / "state.db"
    t0 = time.perf_counter()
    cli("events", "import", csv, "--db", db, "--project", project)
    wall = time.perf_counter() - t0
    return {"events": count(db, "browsed"), "wall": wall, "rate": count(db, "browsed") / wall}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=40_000)
    ap.add_argument("--contacts", type=int, default=5_000)
    ap.add_argument("--seconds", type=float, default=10.0, help="of one-click load")
    ap.add_argument("--out", type=Path, help="append the results (markdown) to this file")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-listener-") as tmp:
        work = Path(tmp)
        project, db = setup(work, args.contacts)
        listener = Listener(project, db)
        try:
            ing = ingest(listener, project, db, args.events, args.contacts)
            click = one_click(listener, db, args.seconds, args.contacts)
        finally:
            listener.stop()
        imp = csv_import(work, project, args.events, args.contacts)
    load = os.getloadavg()[0]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = f"""
### Run of {stamp} ({platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, load average {load:.1f} at the end)

Command: `python bench/bench_listener.py --events {args.events} --contacts {args.contacts} --seconds {args.seconds:g}`

| measure | figure | goal |
|---|---|---|
| events API, 4 clients x batches of 100, while `run` ticked ({ing["ticks"]} ticks) | {ing["events"]:,} events in {ing["wall"]:.2f} s = **{ing["rate"]:,.0f} events/s** | >= 3,000 events/s |
| `events import` of the same number from CSV (one process, start-up included) | {imp["events"]:,} events in {imp["wall"]:.2f} s = **{imp["rate"]:,.0f} events/s** | (comparison) |
| one-click POST at 200 req/s, {click["requests"]} requests, open loop | p50 {click["p50"]:.1f} ms, p95 {click["p95"]:.1f} ms, **p99 {click["p99"]:.1f} ms**, max {click["max"]:.1f} ms; {click["errors"]} errors; {click["recorded"]:,} unsubscribes recorded; inside the listener (access log): p50 {click["inside_p50"]:.1f} ms, p99 {click["inside_p99"]:.1f} ms | p99 <= 50 ms |
"""
    print(text)
    if args.out:
        with args.out.open("a", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
