"""`journeyctl serve`: ticks on the scheduler and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.builders import build_tree

ROOT = Path(__file__).resolve().parents[2]


def test_serve_ticks_then_stops_on_sigterm(tmp_path: Path) -> None:
    build_tree(tmp_path, {
        "journey.yaml": "timezone: Asia/Seoul\nunsubscribe_secret: t0p-s3cret\nchannels:\n  email: {type: file, path: outbox/}\n",
        "welcome.yaml": "trigger: {event: subscribed}\nad: false\nsteps:\n  - send: hi\n    channel: email\n    subject: hi\n    body: hi\n",
    })  # fmt: skip
    db = tmp_path / "state.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "journeyctl", "serve", str(tmp_path), "--db", str(db), "--every", "1m"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    ran = 0
    while time.monotonic() < deadline and ran == 0:
        time.sleep(0.2)
        if db.exists():
            try:
                with sqlite3.connect(db) as conn:
                    ran = conn.execute("select count(*) from runs").fetchone()[0]
            except sqlite3.OperationalError:
                pass  # schema being created
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert ran >= 1, err
    assert proc.returncode == 0, err
    assert "stopped" in err
