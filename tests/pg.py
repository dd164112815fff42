"""A throw-away PostgreSQL cluster for the test session: `initdb` into a temporary directory,
`pg_ctl start` on 127.0.0.1 at a free port, a fresh database per test, stopped at the end.

The binaries come from PATH or /usr/lib/postgresql/<version>/bin (Debian's `postgresql`
package; `.ci/run` installs it). `initdb` refuses to run as root: as root the cluster is
created and run as the `postgres` user (`runuser -u postgres --`, the account the package
creates), in a directory chowned to it. Password authentication (scram) over TCP only, so
the URLs carry a password as a real deployment's do (and the tests can check it is never
printed).

Tests that need it are skipped where no PostgreSQL is installed, unless
JOURNEYCTL_EXPECT_POSTGRES=1 (CI), where a missing PostgreSQL fails them.

API (tests/conftest.py's fixtures): `pg_cluster` (session) is a `Cluster`:
`new_database() -> url`, `url(dbname)`, `stop()`, `start()`, `restart()`, `running`;
`pg_url` is a fresh database's URL for one test.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

EXPECT_ENV = "JOURNEYCTL_EXPECT_POSTGRES"
USER = "journeyctl"


def find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """One PostgreSQL server in a temporary directory (see the module docstring)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.password = secrets.token_hex(12)
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="journeyctl-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as: list[str] = []
        self._n = 0
        self.running = False
        if os.geteuid() == 0:
            # initdb refuses root: the package's `postgres` account owns and runs the cluster.
            shutil.chown(self.root, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n", encoding="ascii")
        if self._as:
            shutil.chown(pwfile, "postgres", "postgres")
        self._run(
            "initdb", "-D", str(self.data), "-U", USER, "--pwfile", str(pwfile),
            "-A", "scram-sha-256", "-E", "UTF8", "--locale", "C", "--no-sync",
        )  # fmt: skip
        pwfile.unlink()
        # A test cluster: no fsync (a killed server keeps what the OS has), but every commit
        # still waits for its WAL write, so a restart loses nothing acknowledged.
        with (self.data / "postgresql.conf").open("a", encoding="ascii") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                "unix_socket_directories = ''\nfsync = off\nfull_page_writes = off\n"
                "max_connections = 200\nshared_buffers = 32MB\n"
            )
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        cmd = [*self._as, str(self.bindir / tool), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr}\n{log}")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`mode`: smart, fast or immediate, as pg_ctl takes it)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        self.running = False

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        self._n += 1
        name = f"t{os.getpid()}_{self._n}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        try:
            if self.running:
                self.stop("fast")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
