"""Helpers for the hostile corpus: a small valid project to spoil, and journeyctl run as a user
runs it (a subprocess with a generous timeout, so a hang fails the test instead of CI)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

JOURNEY = """\
timezone: Asia/Seoul
unsubscribe_secret: "${UNSUBSCRIBE_SECRET}"
contacts:
  fields:
    locale: string
channels:
  email: {type: file, path: outbox/, medium: email}
"""
NOW = "2026-11-02T10:05:00+09:00"
CONTACTS = "id,email,locale\nc1,c1@example.com,ko\nc2,c2@example.com,en\n"
EVENTS = (
    "contact_id,event,at\n"
    "c1,subscribed,2026-11-02T10:00:00+09:00\nc2,subscribed,2026-11-02T10:00:00+09:00\n"
)

HELLO = """\
trigger: {event: subscribed}
ad: false
steps:
  - send: hello
    subject: hi
    body: hello
"""


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content), encoding="utf-8")
    return root


def project(root: Path, files: dict[str, str | bytes]) -> Path:
    """A project folder: journey.yaml (unless given) plus `files`."""
    return write(root, {"journey.yaml": JOURNEY, **files})


def journeyctl(*args: str | Path, cwd: Path | None = None, timeout: float = 60) -> Result:
    proc = subprocess.run(
        [sys.executable, "-m", "journeyctl", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, "UNSUBSCRIBE_SECRET": "0123456789abcdef0123456789abcdef"},
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_no_trace(result: Result) -> None:
    """A located answer, never a traceback or an internal error."""
    assert "Traceback" not in result.output, result.output
    assert "internal error" not in result.output, result.output
    assert result.code != 3, result.output
