"""The unsubscribe page in a real browser: headless Chromium (from the OS packages; .ci/run
installs it) renders `GET /u/{token}` from a real listener; the screenshot must show the
page's text and its red confirm button, and the rendered DOM the form that POSTs."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.listener.conftest import Server
from tests.listener.project import delivered

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BUTTON = (0xC6, 0x28, 0x28)  # the confirm button's background (templates/unsubscribe.html.j2)


def _browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        f"no headless browser found (looked for {', '.join(BROWSERS)}); .ci/run installs chromium"
    )


def _pixels(png: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
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
    pixels = [tuple(row[x * bpp : x * bpp + 3]) for row in rows for x in range(width)]
    return width, height, pixels  # type: ignore[return-value]


@pytest.mark.browser
def test_unsubscribe_page_renders_in_chromium(
    tmp_path: Path, db_url: str, serve: type[Server]
) -> None:
    browser = _browser()
    project, db, _ = delivered(tmp_path, db=db_url)
    link = json.loads(
        (project / "outbox" / "email.jsonl").read_text(encoding="utf-8").splitlines()[0]
    )["unsubscribe_url"]
    server = serve(project, db, "--no-tick")
    shot = tmp_path / "page.png"
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=800,600"]  # fmt: skip
    page = server.local(link)
    out = subprocess.run([*flags, f"--screenshot={shot}", page], capture_output=True, timeout=120)
    assert shot.exists(), out.stderr.decode(errors="replace")[-2000:]
    dom = subprocess.run(
        [*flags, "--dump-dom", page], capture_output=True, timeout=120
    ).stdout.decode()
    assert server.stop() == 0
    # The DOM Chromium built: the form posting back to the link, its button, both languages.
    assert '<form method="post"' in dom and 'id="confirm"' in dom
    assert "수신거부" in dom and "Unsubscribe" in dom
    # The screenshot: not blank; dark text in the upper part; the red confirm button.
    width, height, pixels = _pixels(shot.read_bytes())
    assert (width, height) == (800, 600)
    red = [i for i, p in enumerate(pixels) if all(abs(p[k] - BUTTON[k]) <= 12 for k in range(3))]
    assert len(red) > 2000  # a button, not a stray pixel
    top = min(i // width for i in red)
    dark = sum(1 for p in pixels[: top * width] if max(p) < 90)
    assert dark > 500  # headings and text above the button
    bottom, left, right = (
        max(i // width for i in red),
        min(i % width for i in red),
        max(i % width for i in red),
    )
    label = [pixels[y * width + x] for y in range(top, bottom + 1) for x in range(left, right + 1)]
    assert sum(1 for p in label if min(p) > 200) > 100  # the button's white label, inside it
