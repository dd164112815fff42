"""The idle cron tick, answered before typer, pydantic, jinja2 or rich are imported.

Cron calls `journeyctl run DIR --db DB` every minute and most minutes nothing is due. The full
command loads and validates the project (~1.5 s) only to find that out. This module is the
console script's and `python -m journeyctl`'s entry point: for a plain `run` it asks SQLite
whether the tick would do anything, and whether the project files are byte-for-byte the ones a
previous full run loaded (a fingerprint the executor records). If nothing is due and nothing
changed it records the run and prints what the full command prints for an empty tick;
otherwise, and whenever it is unsure, it hands the untouched argv to the full CLI.

What the fingerprint covers and when this falls back: docs/DECISIONS.md ("Run: the idle
minute ...", "Run: what the idle fingerprint covers", "Run: the fast path leaves ...").
Stdlib only, and only cheap modules: every import here is paid on every cron minute.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from datetime import UTC, date, datetime, time, timedelta, tzinfo

try:  # the builtin module: hashlib would load OpenSSL first (~3 ms a minute) for the same digest
    from _sha256 import sha256
except ImportError:  # Python 3.12 renamed it
    from hashlib import sha256

from journeyctl import __version__
from journeyctl.store.migrations import LATEST

# Bump when what the fingerprint means changes: every stored one then mismatches (falls back).
FORMAT = 1
META_KEY = "fastpath.fingerprint"
TRACE_ENV = "JOURNEYCTL_TRACE_FASTPATH"  # "1": say on stderr whether the fast path answered
DISABLE_ENV = "JOURNEYCTL_NO_FASTPATH"  # "1": always the full command
# Waiting longer than this for SQLite's write lock is not "idle": the full command waits.
BUSY_TIMEOUT_S = 0.25
PROJECT_FILE = "journey.yaml"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
# instants.EARLIEST and LATEST (not imported: this module stays cheap); tested equal.
_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)

# Fingerprints computed before the full command loaded the project, keyed by (root, db):
# the executor records one only if the files still hash the same after the tick.
_prepared: dict[tuple[str, str], str] = {}


class Fallback(Exception):
    """The fast path cannot answer for sure; the message says why (traced)."""


# --- entry points ---------------------------------------------------------------------------


def main() -> None:
    """Console script and `python -m journeyctl`."""
    argv = sys.argv[1:]
    if argv[:1] == ["run"] and os.environ.get(DISABLE_ENV) != "1":
        code = try_idle(argv[1:])
        if code is not None:
            sys.exit(code)
    from journeyctl.cli import main as cli_main

    cli_main()


def try_idle(args: list[str]) -> int | None:
    """Answer `run ARGS` if the tick is idle (returns the exit code), else None."""
    trace = os.environ.get(TRACE_ENV) == "1"
    try:
        inv = parse_run_args(args)
        root, db, fmt = inv["project"] or ".", inv["db"] or "journey.db", inv["format"] or "table"
        fingerprint = project_fingerprint(root)
        _prepared[(os.path.abspath(root), os.path.abspath(db))] = fingerprint
        text = _idle_tick(db, fingerprint, inv["now"], fmt)
    except Fallback as why:
        if trace:
            print(f"fastpath: full run ({why})", file=sys.stderr)
        return None
    sys.stdout.write(text)
    sys.stdout.flush()
    if trace:
        print("fastpath: idle", file=sys.stderr)
    return 0


# --- argv -----------------------------------------------------------------------------------

_VALUE_OPTIONS = {"--db": "db", "--now": "now", "--format": "format", "--limit": "limit"}


def parse_run_args(args: list[str]) -> dict[str, str | None]:
    """The options of `run` this module fully understands; anything else falls back.

    Conservative on purpose: a repeated option, an empty value, a value that looks like an
    option, `--`, `--dry-run`, import files or any unknown token are left to the full CLI.
    """
    inv: dict[str, str | None] = {
        "project": None,
        "db": None,
        "now": None,
        "format": None,
        "limit": None,
    }
    i = 0
    while i < len(args):
        token = args[i]
        i += 1
        if token.startswith("-"):
            name, eq, value = token.partition("=")
            key = _VALUE_OPTIONS.get(name)
            if key is None:
                raise Fallback(f"option {name!r} is left to the full command")
            if not eq:
                if i >= len(args):
                    raise Fallback(f"{name} without a value")
                value = args[i]
                i += 1
            if not value or value.startswith("-"):
                raise Fallback(f"unusual value for {name}")
        else:
            key, value = "project", token
            if not value:
                raise Fallback("empty project directory")
        if inv[key] is not None:
            raise Fallback(f"{key} given twice")
        inv[key] = value
    if inv["format"] not in (None, "table", "json"):
        raise Fallback("unknown --format")
    limit = inv["limit"]
    if limit is not None and not (limit.isascii() and limit.isdigit() and int(limit) >= 1):
        raise Fallback("unusual --limit")
    inv["project"] = inv["project"] or "."
    inv["db"] = inv["db"] or "journey.db"
    inv["format"] = inv["format"] or "table"
    return inv


# --- the project fingerprint ----------------------------------------------------------------


def project_fingerprint(root: str) -> str:
    """sha256 over what `run` loads: journey.yaml, the top-level sequence files and every file
    under templates/ (names and bytes), plus the journeyctl version, this module's FORMAT, the
    schema version and the project's absolute path.

    Same selection as spec.loader (top-level *.yaml/*.yml except journey.yaml/journey.yml) and
    the template loader (any file under templates/, symlinks followed as Jinja follows them).
    """
    head = f"journeyctl {__version__}\0fastpath {FORMAT}\0schema {LATEST}\0{os.path.abspath(root)}"
    parts = [head.encode("utf-8", "surrogateescape")]
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as exc:
        raise Fallback(f"cannot list the project directory: {exc}") from None
    for entry in entries:
        name = entry.name
        ext = os.path.splitext(name)[1]
        if name == PROJECT_FILE or (ext in (".yaml", ".yml") and name != "journey.yml"):
            if not entry.is_file():
                if name == PROJECT_FILE or entry.is_dir():
                    raise Fallback(f"{name} is not a regular file")
                continue
            _add_file(parts, name, entry.path)
    _add_tree(parts, os.path.join(root, "templates"), "templates", set())
    return str(sha256(b"".join(parts)).hexdigest())


def _add_file(parts: list[bytes], rel: str, path: str) -> None:
    try:
        with open(path, "rb") as fh:
            digest: bytes = sha256(fh.read()).digest()
    except OSError as exc:
        raise Fallback(f"cannot read {rel}: {exc}") from None
    parts.append(b"\0F" + rel.encode("utf-8", "surrogateescape") + b"\0" + digest)


def _add_tree(parts: list[bytes], path: str, rel: str, seen: set[tuple[int, int]]) -> None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise Fallback(f"cannot stat {rel}: {exc}") from None
    if (st.st_dev, st.st_ino) in seen:
        raise Fallback(f"{rel}: a symlink loop")
    seen = seen | {(st.st_dev, st.st_ino)}
    parts.append(b"\0D" + rel.encode("utf-8", "surrogateescape"))
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except NotADirectoryError:
        raise Fallback(f"{rel} is not a directory") from None
    except OSError as exc:
        raise Fallback(f"cannot list {rel}: {exc}") from None
    for entry in entries:
        sub = f"{rel}/{entry.name}"
        if entry.is_dir():
            _add_tree(parts, entry.path, sub, seen)
        elif entry.is_file():
            _add_file(parts, sub, entry.path)
        else:  # a FIFO, socket or broken link: reading could block or mean anything
            raise Fallback(f"{sub} is not a regular file")


def prepared_fingerprint(root: os.PathLike[str] | str, db: os.PathLike[str] | str) -> str | None:
    """For the executor, after a finished tick: the fingerprint hashed before the project was
    loaded, if the files still hash the same (so it describes what this tick loaded)."""
    key = (os.path.abspath(root), os.path.abspath(db))
    before = _prepared.pop(key, None)
    if before is None:
        return None
    try:
        after = project_fingerprint(str(root))
    except Fallback:
        return None
    return before if after == before else None


def meta_value(fingerprint: str, timezone: str) -> str:
    """What the executor stores under META_KEY: the fingerprint and the project's timezone."""
    return f"{fingerprint} {timezone}"


# --- the database ---------------------------------------------------------------------------


def _idle_tick(db: str, fingerprint: str, now_text: str | None, fmt: str) -> str:
    """Under the run lock and one write transaction: check nothing is due, record the run."""
    if not os.path.isfile(db):
        raise Fallback("no database yet")
    try:
        import fcntl
    except ImportError:  # not POSIX: the full command decides what to do
        raise Fallback("no fcntl here") from None
    # store.lock.lock_path: the lock belongs to the database, whichever path names it.
    fd = os.open(os.path.realpath(db) + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Fallback("another run holds the lock") from None
        uri = "file:" + db.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
        try:
            conn = sqlite3.connect(
                uri + "?mode=rw", uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise Fallback(f"cannot open the database: {exc}") from None
        try:
            return _check_and_record(conn, fingerprint, now_text, fmt)
        except sqlite3.Error as exc:
            raise Fallback(f"database: {exc}") from None
        finally:
            conn.close()
    finally:
        os.close(fd)  # also releases the flock


def _check_and_record(
    conn: sqlite3.Connection, fingerprint: str, now_text: str | None, fmt: str
) -> str:
    q = conn.execute
    if q("PRAGMA user_version").fetchone()[0] != LATEST:
        raise Fallback("the database schema is not the latest")
    if q("PRAGMA journal_mode").fetchone()[0] != "wal":
        raise Fallback("the database is not in WAL mode yet")
    q("PRAGMA synchronous = FULL")  # the runs row is committed as durably as a full run's
    q("BEGIN IMMEDIATE")
    try:
        meta = dict(q("SELECT name, value FROM meta WHERE name IN (?, 'timezone')", (META_KEY,)))
        stored, _, tz = meta.get(META_KEY, "").partition(" ")
        if stored != fingerprint:
            raise Fallback("project files, journeyctl version or project path changed")
        if meta.get("timezone") != tz:
            raise Fallback("the stored timezone differs")  # a full run would rewrite it
        started = _wall()
        now = _parse_now(now_text, tz) if now_text else started
        now_us = (now - _EPOCH) // _MICRO
        # The three things runtime.tick does: recover `attempting` rows (orphans, or a live
        # run's: either way not idle), advance due contacts, claim due deliveries.
        if q("SELECT 1 FROM ledger WHERE state = 'attempting' LIMIT 1").fetchone():
            raise Fallback("interrupted deliveries to recover")
        if q(
            "SELECT 1 FROM contact_state WHERE next_due IS NOT NULL AND next_due <= ? LIMIT 1",
            (now_us,),
        ).fetchone():
            raise Fallback("contacts are due")
        if q(
            "SELECT 1 FROM ledger WHERE state IN ('planned', 'retry') AND next_attempt_at <= ? "
            "LIMIT 1",
            (now_us,),
        ).fetchone():
            raise Fallback("deliveries are due")
        # Same row as executor.run_once's begin_run + finish_run for an empty tick.
        q(
            "INSERT INTO runs(started_at, now, finished_at, dry_run, contacts, decided, skipped, "
            "delivered, retrying, failed, recovered, exit_code, error) "
            "VALUES (?, ?, ?, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL)",
            ((started - _EPOCH) // _MICRO, now_us, (_wall() - _EPOCH) // _MICRO),
        )
        q("COMMIT")
    except BaseException:
        q("ROLLBACK")
        raise
    return render(now, tz, fmt)


def _zone(name: str) -> tzinfo:
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError: the full command reports it
        raise Fallback(f"unknown timezone {name!r}") from None


def _wall() -> datetime:
    # journeyctl.clock.SystemClock's reading, without paying for its dataclasses/typing imports.
    return datetime.now(UTC)  # noqa: TID251


def _parse_now(text: str, tz_name: str) -> datetime:
    """instants.parse_instant; anything it would reject falls back (the full CLI says why)."""
    tz = _zone(tz_name)
    try:
        if len(text) == 10:
            value = datetime.combine(date.fromisoformat(text), time(), tzinfo=tz)
        else:
            value = datetime.fromisoformat(text)
        if value.tzinfo is None:
            value = value.replace(tzinfo=tz)
        value = value.astimezone(UTC)
    except (ValueError, OverflowError):  # `--now 0001-01-01` in a zone east of UTC
        raise Fallback("--now is not an instant") from None
    if not _EARLIEST <= value < _LATEST:
        raise Fallback("--now is out of range")
    return value


# --- output ---------------------------------------------------------------------------------


def render(now: datetime, tz_name: str, fmt: str) -> str:
    """cli.run_render for a tick that did nothing (tests compare the two byte for byte)."""
    when = now.astimezone(_zone(tz_name)).isoformat()
    if fmt == "json":
        import json

        doc = {
            "now": when,
            "dry_run": False,
            "locked": False,
            "imported": {"contacts": 0, "contacts_new": 0, "events": 0, "events_new": 0},
            "rejected": {"contacts": 0, "events": 0, "events_unknown_contact": 0, "files": {}},
            "held_back": [],
            "contacts": 0,
            "decided": 0,
            "skipped": 0,
            "delivered": 0,
            "retrying": 0,
            "failed": 0,
            "recovered": 0,
            "errors": [],
            "exit_code": 0,
        }
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    return (
        f"run at {when}: 0 contact(s) advanced, 0 to send, 0 skipped, "
        "0 delivered, 0 retrying, 0 failed\n"
    )
