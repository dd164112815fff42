"""Running the CLI and reading the store (SQLite or PostgreSQL) in the listener's tests."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.db import query
from tests.listener.conftest import ROOT, base_env


def journeyctl(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "journeyctl", *map(str, args)],
        cwd=ROOT, env=env or base_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def run(
    project: Path, db: str | Path, now: datetime, *extra: str | Path
) -> subprocess.CompletedProcess[str]:
    out = journeyctl("run", project, "--db", db, "--now", now.isoformat(), *extra)
    assert out.returncode == 0, out.stderr
    return out


def events(db: str | Path, name: str | None = None) -> list[tuple[str, str, list[Any]]]:
    rows = query(db, "SELECT contact_id, event, props FROM events ORDER BY id")
    return [(c, e, json.loads(p)) for c, e, p in rows if name is None or e == name]


def sent(db: str | Path) -> list[tuple[str, str, str]]:
    """(contact, step, message key) of every message delivered."""
    rows = query(db, "SELECT contact_id, step, key FROM ledger WHERE state = 'sent' ORDER BY id")
    return [(str(c), str(s), str(k)) for c, s, k in rows]
