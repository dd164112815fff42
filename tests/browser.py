"""Headless Chromium (from the OS packages; .ci/run installs it) driven over the Chrome
DevTools Protocol on a pipe (`--remote-debugging-pipe`: JSON messages ending in NUL on file
descriptors 3 and 4), so a test sees what a person's browser would: console errors and
uncaught exceptions as they happen, every network request, the DOM after the page's scripts
ran, the load event's time and a screenshot. Standard library only.

`browser()` skips the test where no browser is installed, and fails it instead when
JOURNEYCTL_EXPECT_BROWSER=1 (CI installs one, so a missing browser is a broken CI).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import struct
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def browser() -> str:
    """The browser's path; skips (or fails under JOURNEYCTL_EXPECT_BROWSER=1) without one."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    why = f"no headless browser found (looked for {', '.join(BROWSERS)}); .ci/run installs chromium"
    if os.environ.get("JOURNEYCTL_EXPECT_BROWSER") == "1":
        pytest.fail(why + " and JOURNEYCTL_EXPECT_BROWSER=1 says one must be here")
    pytest.skip(why)


@dataclass
class Visit:
    """What one page did in the browser."""

    errors: list[str] = field(default_factory=list)  # console errors, uncaught exceptions
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    load_ms: float = 0.0  # navigation start to the end of the load event
    ready: bool = False  # the page said it finished drawing (data-ready on <html>)
    values: dict[str, Any] = field(default_factory=dict)  # the expressions' results
    png: bytes = b""


def _high(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class _Pipe:
    def __init__(self, exe: str, profile: str, width: int, height: int) -> None:
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()
        # Chromium's ends moved above 9, so that `3<&` and `4>&` cannot overwrite each other
        # (bash: sh takes one-digit descriptors only).
        to_chrome_r, from_chrome_w = (_high(fd) for fd in (to_chrome_r, from_chrome_w))
        self.log = open(os.path.join(profile, "chromium.log"), "wb")  # noqa: SIM115
        flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 "--no-first-run", "--no-default-browser-check", "--mute-audio",
                 f"--user-data-dir={profile}", f"--window-size={width},{height}",
                 "--remote-debugging-pipe", "about:blank"]  # fmt: skip
        # The protocol's descriptors are 3 (Chromium reads) and 4 (Chromium writes).
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}', "bash", *flags],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> int:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}, **kw}
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        return self._id

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("the browser did not answer in time")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError(f"the browser closed its protocol pipe:\n{self.stderr()}")
            self._buf += chunk
        raw, _, self._buf = self._buf.partition(b"\0")
        return json.loads(raw)  # type: ignore[no-any-return]

    def call(self, method: str, params: dict[str, Any] | None = None, *, timeout: float = 60,
             **kw: Any) -> dict[str, Any]:  # fmt: skip
        want = self.send(method, params, **kw)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read(deadline)
            if msg.get("id") == want:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})  # type: ignore[no-any-return]
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(e["method"] == method for e in self.events):
            msg = self._read(deadline)
            if "method" in msg:
                self.events.append(msg)

    def stderr(self) -> str:
        self.log.flush()
        with open(self.log.name, "rb") as f:
            return f.read()[-3000:].decode(errors="replace")

    def close(self) -> None:
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=20)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        finally:
            os.close(self._w)
            os.close(self._r)
            self.log.close()


def visit(
    url: str,
    expressions: dict[str, str] | None = None,
    *,
    width: int = 1280,
    height: int = 1600,
    ready_timeout: float = 60,
    screenshot: Path | None = None,
) -> Visit:
    """Open `url`, wait for the load event and for the page's `data-ready` mark (set by the
    page when its diagrams and charts are drawn), evaluate each of `expressions` (JavaScript,
    by value), and take a screenshot of the viewport (also written to `screenshot`)."""
    exe = browser()
    out = Visit()
    with tempfile.TemporaryDirectory(prefix="journeyctl-browser-") as profile:
        pipe = _Pipe(exe, profile, width, height)
        try:
            target = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
                "sessionId"
            ]
            for domain in ("Runtime.enable", "Log.enable", "Page.enable", "Network.enable"):
                pipe.call(domain, sessionId=session)
            metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
            pipe.call("Emulation.setDeviceMetricsOverride", metrics, sessionId=session)
            pipe.call("Page.navigate", {"url": url}, sessionId=session)
            pipe.wait_event("Page.loadEventFired", timeout=ready_timeout)

            def evaluate(js: str) -> Any:
                got = pipe.call(
                    "Runtime.evaluate",
                    {"expression": js, "returnByValue": True, "awaitPromise": True},
                    sessionId=session,
                )
                if "exceptionDetails" in got:
                    raise AssertionError(f"{js}: {got['exceptionDetails']}")
                return got["result"].get("value")

            deadline = time.monotonic() + ready_timeout
            while True:
                state = evaluate("document.documentElement.dataset.ready || ''")
                out.ready = state == "1"
                if state or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            out.load_ms = float(
                evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
            )
            for name, js in (expressions or {}).items():
                out.values[name] = evaluate(js)
            shot = pipe.call("Page.captureScreenshot", {"format": "png"}, sessionId=session)
            out.png = base64.b64decode(shot["data"])
        finally:
            pipe.close()
    for e in pipe.events:
        p = e.get("params", {})
        if e["method"] == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            out.errors.append(d.get("exception", {}).get("description") or d.get("text", ""))
        elif e["method"] == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
            out.errors.append(
                " ".join(str(a.get("value", a.get("description"))) for a in p["args"])
            )
        elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
            out.errors.append(p["entry"]["text"])
        elif e["method"] == "Network.requestWillBeSent":
            out.requests.append(p["request"]["url"])
    if screenshot is not None:
        screenshot.write_bytes(out.png)
    return out


def pixels(png: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """Width, height and RGB pixels of an 8-bit RGB or RGBA PNG (what Chromium writes)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = depth = color = 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", data[:10])
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    assert depth == 8 and color in (2, 6), (depth, color)
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytearray] = []
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(line)
        prev = line
    out = [tuple(row[x * bpp : x * bpp + 3]) for row in rows for x in range(width)]
    return width, height, out  # type: ignore[return-value]
