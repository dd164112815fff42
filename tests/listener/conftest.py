"""The listener on a real uvicorn: `journeyctl serve --http 127.0.0.1:0` in a subprocess,
a real HTTP client (httpx), a real SQLite file."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.channels.channel_servers import (
    CountingController,
    SmtpRecorder,
    SmtpServer,
    free_port,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "listener-test-secret"
API_TOKEN = "listener-test-api-token"
PUBLIC = "https://mail.example.com"


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEYCTL_")}
    env.update(UNSUBSCRIBE_SECRET=SECRET, JOURNEYCTL_API_TOKEN=API_TOKEN, PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


class Server:
    """`serve DIR --db DB --http 127.0.0.1:0 [...]`; `stop()` sends SIGTERM and returns the
    exit code; stderr is collected in `lines`."""

    def __init__(
        self, project: Path, db: str | Path, *args: str, env: Mapping[str, str] | None = None
    ) -> None:
        cmd = [sys.executable, "-m", "journeyctl", "serve", str(project), "--db", str(db)]
        cmd += ["--http", "127.0.0.1:0", *args]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=dict(env or base_env()), stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = ""
        while True:
            try:
                line = self._q.get(timeout=60)
            except queue.Empty:
                self.proc.kill()
                raise AssertionError(
                    "the listener did not start:\n" + "".join(self.lines)
                ) from None
            if line is None:
                raise AssertionError("serve exited:\n" + "".join(self.lines))
            if line.startswith("listening on "):
                self.url = line.split()[-1]
                break

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            self._q.put(line)
        self._q.put(None)

    def local(self, public_link: str) -> str:
        assert public_link.startswith(PUBLIC + "/"), public_link
        return self.url + public_link[len(PUBLIC) :]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        self._reader.join(timeout=10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        return code

    @property
    def log(self) -> str:
        return "".join(self.lines)


@pytest.fixture
def serve() -> Iterator[type[Server]]:
    started: list[Server] = []

    class Tracked(Server):
        def __init__(self, *a: object, **k: object) -> None:
            super().__init__(*a, **k)  # type: ignore[arg-type]
            started.append(self)

    yield Tracked
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) recording what `run` delivers."""
    recorder = SmtpRecorder()
    controller = CountingController(
        recorder, hostname="127.0.0.1", port=free_port(), auth_require_tls=False
    )
    controller.start()
    try:
        yield SmtpServer(recorder, controller)
    finally:
        controller.stop()
