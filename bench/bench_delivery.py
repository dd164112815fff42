"""Benchmark delivery: SmtpSender and WebhookSender against loopback sinks, beside the floors.

Each sink runs in its own process on 127.0.0.1 (client and server get one core each), stops
by itself after --max-seconds, and is stopped by PID at the end. In the same run, interleaved
with ours, the floors of research/performance.md 6.1 and 6.5: prebuilt bytes over one smtplib
connection, and an http.client keep-alive POST loop. Goals: SMTP >= 500 msg/s, webhook
>= 1,200 msg/s, each over one reused connection. Also: MIME build alone (ours against
EmailMessage) and a real-time check of the rate limiter.

    python bench/bench_delivery.py [N=2000] [--runs 5] [--append]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from journeyctl.channels.mime import Originator, build_email  # noqa: E402
from journeyctl.channels.rate import RateLimited, TokenBucket  # noqa: E402
from journeyctl.channels.recording import RecordingChannel  # noqa: E402
from journeyctl.channels.smtp import SmtpSender  # noqa: E402
from journeyctl.channels.webhook import WebhookSender, webhook_body  # noqa: E402
from journeyctl.engine.model import Message, Status  # noqa: E402

SMTP_SINK = r"""
import sys, time
from aiosmtpd.controller import Controller
class Sink:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Sink.n += 1
        return "250 OK"
c = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
t0 = time.monotonic()
try:
    while time.monotonic() - t0 < float(sys.argv[2]):
        time.sleep(0.2)
except KeyboardInterrupt:
    pass
finally:
    c.stop()
    print(f"accepted={Sink.n}", flush=True)
"""

HTTP_SINK = r"""
import sys, threading
from http.server import HTTPServer, BaseHTTPRequestHandler
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
srv = HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
threading.Timer(float(sys.argv[2]), srv.shutdown).start()
print("ready", flush=True)
srv.serve_forever()
"""

HTML = (
    "<html><body>"
    + "<p>안녕하세요 김민지님, 체험 기간이 3일 남았어요. <a href='https://acme.test/up'>업그레이드</a></p>\n"
    * 20
    + "</body></html>"
)
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def messages(n: int, channel: str) -> list[Message]:
    return [
        Message(
            _key=f"c{i}:welcome:e{i}:hello",
            contact_id=f"c{i}",
            sequence="welcome",
            step="hello",
            channel=channel,
            at=AT,
            status=Status.SENT,
            enrollment_id=f"e{i}",
            is_marketing=True,
            subject="(광고) 김민지님, 체험 기간이 3일 남았어요",
            text=None,
            html=HTML,
            to=f"user{i}@example.com",
            unsubscribe_url=f"https://acme.test/u/tok{i}",
        )
        for i in range(n)
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sink(code: str, max_seconds: float) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(port), str(max_seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError("sink did not start")
    return proc, port


def stop_sink(proc: subprocess.Popen[str], sig: int) -> str:
    proc.send_signal(sig)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out.strip()


def rate_of(fn: Callable[[], None], n: int) -> float:
    t0 = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t0)


def interleaved(cases: dict[str, Callable[[], None]], n: int, runs: int) -> dict[str, float]:
    """Median msg/s per case; cases alternate within each run so drift hits all alike."""
    for fn in cases.values():
        fn()  # warm-up
    rates: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, fn in cases.items():
            rates[name].append(rate_of(fn, n))
    return {name: statistics.median(r) for name, r in rates.items()}


def bench_smtp(n: int, runs: int) -> tuple[dict[str, float], str]:
    msgs = messages(n, "email")
    sender = Originator.parse("Acme <hello@acme.test>")
    prebuilt = build_email(msgs[0], sender, date=AT).data
    proc, port = start_sink(SMTP_SINK, 600)
    try:

        def floor() -> None:
            client = smtplib.SMTP("127.0.0.1", port)
            client.ehlo()
            for i in range(n):
                client.sendmail("hello@acme.test", [f"user{i}@example.com"], prebuilt)
            client.quit()

        def ours() -> None:
            channel = SmtpSender(
                "email", host="127.0.0.1", port=port, from_="Acme <hello@acme.test>"
            )
            channel.open()
            for m in msgs:
                channel.deliver(m)
            channel.close()
            assert channel.connections == 1

        result = interleaved({"floor": floor, "ours": ours}, n, runs)
    finally:
        sink_says = stop_sink(proc, signal.SIGINT)
    return result, sink_says


def bench_webhook(n: int, runs: int) -> dict[str, float]:
    msgs = messages(n, "sms")
    body = webhook_body(msgs[0])
    proc, port = start_sink(HTTP_SINK, 600)
    try:

        def floor() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port)
            for _ in range(n):
                conn.request(
                    "POST", "/hook", body=body, headers={"Content-Type": "application/json"}
                )
                conn.getresponse().read()
            conn.close()

        def ours() -> None:
            channel = WebhookSender("sms", url=f"http://127.0.0.1:{port}/hook", secret="s3cret")
            channel.open()
            for m in msgs:
                channel.deliver(m)
            channel.close()

        return interleaved({"floor": floor, "ours": ours}, n, runs)
    finally:
        stop_sink(proc, signal.SIGTERM)


def bench_build(n: int, runs: int) -> dict[str, float]:
    from email.message import EmailMessage
    from email.policy import SMTP as SMTP_POLICY

    msgs = messages(n, "email")
    sender = Originator.parse("Acme <hello@acme.test>")

    def ours() -> None:
        for m in msgs:
            build_email(m, sender, date=AT)

    def stdlib() -> None:
        for m in msgs[: n // 10]:  # 10x fewer: it is that slow; rate is scaled below
            e = EmailMessage()
            e["From"], e["To"], e["Subject"] = "Acme <hello@acme.test>", m.to, m.subject
            e["Message-ID"] = f"<{m.key}@acme.test>"
            e.set_content("text")
            e.add_alternative(m.html, subtype="html")
            e.as_bytes(policy=SMTP_POLICY)

    out = interleaved({"ours": ours}, n, runs)
    out["EmailMessage"] = interleaved({"stdlib": stdlib}, n // 10, runs)["stdlib"]
    return out


def bench_rate(per_second: float, seconds: float) -> float:
    """Real clock: deliveries per second through RateLimited over `seconds`."""
    inner = RecordingChannel("email", "email")
    channel = RateLimited(inner, TokenBucket(per_second))
    n = int(per_second * seconds) + 1
    t0 = time.monotonic()
    for m in messages(n, "email"):
        channel.deliver(m)
    return (n - 1) / (time.monotonic() - t0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--append", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    n, runs = args.n, args.runs

    smtp, sink_says = bench_smtp(n, runs)
    hook = bench_webhook(n, runs)
    build = bench_build(n, runs)
    limited = bench_rate(200.0, 2.0)
    size = len(build_email(messages(1, "email")[0], Originator.parse("a@acme.test"), date=AT).data)

    rows = [
        ("SMTP, one reused connection (build + send)", smtp["ours"], smtp["floor"], 500),
        ("Webhook, keep-alive, signed JSON", hook["ours"], hook["floor"], 1200),
    ]
    lines = [
        "## Delivery",
        "",
        f"`python bench/bench_delivery.py {n} --runs {runs}` — {time.strftime('%Y-%m-%d')}, "
        f"median of {runs} interleaved runs of {n} messages ({size:,} B email, Korean subject "
        f"and HTML, text derived); sinks in separate processes on 127.0.0.1 "
        f"(SMTP sink: {sink_says}).",
        "",
        "| case | journeyctl | floor (same run) | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for name, ours, floor, goal in rows:
        lines.append(
            f"| {name} | {ours:,.0f} msg/s | {floor:,.0f} msg/s | {ours / floor:.0%} | "
            f"≥ {goal:,} msg/s | {'yes' if ours >= goal else 'NO'} |"
        )
    lines += [
        f"| MIME build only (`mime.build_email`) | {build['ours']:,.0f} msg/s | "
        f"EmailMessage: {build['EmailMessage']:,.0f} msg/s | "
        f"{build['ours'] / build['EmailMessage']:.0f}× | — | — |",
        f"| `rate: 200/s`, real clock, 2 s | {limited:,.1f} msg/s | — | "
        f"{limited / 200:.1%} of 200 | ±5% | {'yes' if abs(limited - 200) <= 10 else 'NO'} |",
        "",
        "Floors: SMTP = prebuilt bytes over one smtplib connection (performance.md 6.1); "
        "webhook = http.client keep-alive POST loop (6.5).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    print(json.dumps({"smtp": smtp, "webhook": hook, "build": build, "rate_200": limited}))
    if args.append:
        results = ROOT / "bench" / "RESULTS.md"
        existing = results.read_text(encoding="utf-8") if results.exists() else "# Benchmarks\n"
        results.write_text(existing.rstrip("\n") + "\n\n" + text, encoding="utf-8")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
