"""The same user-visible behaviour on both stores: one project and one export, run by the real
CLI on a SQLite file and on a PostgreSQL database, then every reading command (status,
messages, report, explain, plan) prints the same, byte for byte."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.e2e.project import START, population, write_project
from tests.e2e.test_run_equals_simulate import write_csvs

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEYCTL_")}
    env["UNSUBSCRIBE_SECRET"] = "test-only-unsubscribe-secret"
    return subprocess.run(
        [sys.executable, "-m", "journeyctl", *map(str, args)], env=env, cwd=ROOT,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def wall_free(text: str) -> str:
    """The output without the wall clock (when the last run started and finished): instants
    dated around today, whatever the zone (the project's lie in November 2026)."""
    today = datetime.now(UTC).date()
    days = "|".join(str(today + timedelta(days=d)) for d in (-1, 0, 1))
    return re.sub(rf"({days})[T ]\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d)?", "WALL", text)


def outputs(root: Path, data: Path, db: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for day in range(0, 5):
        now = (START + timedelta(days=day, hours=9)).isoformat()
        ran = cli(
            "run", root, "--db", db, "--contacts", data / "contacts.csv", "--events",
            data / "events.csv", "--now", now, "--format", "json",
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        out[f"run {day}"] = ran.stdout
    now = (START + timedelta(days=5)).isoformat()
    for name, args in {
        "status": ("status", root, "--db", db, "--now", now, "--format", "json"),
        "status text": ("status", root, "--db", db, "--now", now),
        "messages": ("messages", "--db", db, "--status", "all", "--format", "json"),
        "report": ("report", root, "--db", db, "--format", "json"),
        "explain": ("explain", root, "c001", "--db", db),
        "explain 2": ("explain", root, "c007", "--db", db),
        "plan": ("plan", root, "--db", db, "--format", "json"),
    }.items():
        proc = cli(*args)
        assert proc.returncode in (0, 1), f"{name}: {proc.stderr}"
        out[name] = f"{proc.returncode}\n{proc.stdout}"
    return out


def test_every_reading_command_prints_the_same_on_both_stores(tmp_path: Path, pg_url: str) -> None:
    contacts, events = population(20, seed=5)
    write_csvs(tmp_path, contacts, events)
    got = {}
    for kind, db in (("sqlite", str(tmp_path / "j.db")), ("postgres", pg_url)):
        root = write_project(tmp_path / kind)
        got[kind] = outputs(root, tmp_path, db)
        got[kind] = {k: wall_free(v.replace(str(root), "ROOT")) for k, v in got[kind].items()}
    assert '"delivered": 0' not in got["sqlite"]["run 4"] or got["sqlite"]["messages"] != "[]"
    for name in got["sqlite"]:
        assert got["postgres"][name] == got["sqlite"][name], name
