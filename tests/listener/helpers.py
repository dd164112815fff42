"""Running the CLI and reading the store in the listener's tests."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.listener.conftest import ROOT, base_env


def journeyctl(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "journeyctl", *map(str, args)],
        cwd=ROOT, env=env or base_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def run(
    project: Path, db: Path, now: datetime, *extra: str | Path
) -> subprocess.CompletedProcess[str]:
    out = journeyctl("run", project, "--db", db, "--now", now.isoformat(), *extra)
    assert out.returncode == 0, out.stderr
    return out


def events(db: Path, name: str | None = None) -> list[tuple[str, str, list[Any]]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT contact_id, event, props FROM events ORDER BY id").fetchall()
    return [(c, e, json.loads(p)) for c, e, p in rows if name is None or e == name]


def sent(db: Path) -> list[tuple[str, str, str]]:
    """(contact, step, message key) of every message delivered."""
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT contact_id, step, key FROM ledger WHERE state = 'sent' ORDER BY id"
        ).fetchall()
