"""The idle cron minute, answered before typer, pydantic, jinja2 or rich are imported.

Cron calls `journeyctl run DIR --db DB` every minute and most minutes nothing is due. The full
command loads and validates the project only to find that out. For a plain `run` the entry
point (journeyctl.__main__) asks here first: are the project files byte-for-byte the ones a
previous full run loaded (spec.fingerprint, recorded by run.once), and would a tick do
anything (the store's `is_idle`)? If nothing is due and nothing changed it records the run
and prints the run summary (run.summary) the full command prints for an empty tick;
otherwise, and whenever it is unsure, the full command runs with the untouched argv (and
the fingerprint hashed here, so it can record it).

What the fingerprint covers and when this falls back: docs/DECISIONS.md ("Run: the idle
minute ...", "Run: what the idle fingerprint covers", "Run: the fast path leaves ...").
Only cheap modules: every import here is paid on every cron minute.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from journeyctl.data.instants import parse_instant
from journeyctl.errors import UsageError
from journeyctl.run import summary
from journeyctl.spec.fingerprint import (
    META_KEY,
    FingerprintError,
    parse_meta_value,
    project_fingerprint,
)
from journeyctl.store.migrations import LATEST
from journeyctl.store.sqlite_idle import IdleDatabase, NotIdle

TRACE_ENV = "JOURNEYCTL_TRACE_FASTPATH"  # "1": say on stderr whether the idle answer was given
DISABLE_ENV = "JOURNEYCTL_NO_FASTPATH"  # "1": always the full command
# Waiting longer than this for SQLite's write lock is not "idle": the full command waits.
BUSY_TIMEOUT_S = 0.25


class Fallback(Exception):
    """The idle minute cannot answer for sure; the message says why (traced)."""


def attempt(args: list[str]) -> tuple[int | None, str | None]:
    """Answer `run ARGS` if the tick is idle: (its exit code, None) once the summary is
    printed. Otherwise (None, the project's fingerprint if it could be hashed) for the full
    command, which records that fingerprint after its tick if the files did not change."""
    trace = os.environ.get(TRACE_ENV) == "1"
    fingerprint = None
    try:
        inv = parse_run_args(args)
        try:
            fingerprint = project_fingerprint(inv["project"] or ".")
        except FingerprintError as exc:
            raise Fallback(str(exc)) from None
        text = answer(inv["db"] or "journey.db", fingerprint, inv["now"], inv["format"] or "")
    except Fallback as why:
        if trace:
            print(f"fastpath: full run ({why})", file=sys.stderr)
        return None, fingerprint
    sys.stdout.write(text)
    sys.stdout.flush()
    if trace:
        print("fastpath: idle", file=sys.stderr)
    return 0, None


# --- argv -----------------------------------------------------------------------------------

_VALUE_OPTIONS = {"--db": "db", "--now": "now", "--format": "format", "--limit": "limit"}


def parse_run_args(args: list[str]) -> dict[str, str | None]:
    """The options of `run` the idle minute fully understands; anything else falls back.

    Not a second parser: it only recognises the plain invocation cron makes. Conservative on
    purpose: a repeated option, an empty value, a value that looks like an option, `--`,
    `--dry-run`, import files or any unknown token are left to the full CLI.
    """
    inv: dict[str, str | None] = dict.fromkeys(("project", "db", "now", "format", "limit"))
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
    if inv["format"] not in (None, "text", "json"):  # `table` (deprecated): the full command
        raise Fallback("unknown --format")
    limit = inv["limit"]
    if limit is not None and not (limit.isascii() and limit.isdigit() and int(limit) >= 1):
        raise Fallback("unusual --limit")
    inv["project"] = inv["project"] or "."
    inv["db"] = inv["db"] or "journey.db"
    inv["format"] = inv["format"] or "text"
    return inv


# --- the database ---------------------------------------------------------------------------


def answer(db: str, fingerprint: str, now_text: str | None, fmt: str) -> str:
    """Under the run lock and one write transaction: check that the recorded fingerprint and
    timezone match and that nothing is due, record the run; the summary to print."""
    if db.lower().startswith(("postgresql://", "postgres://")):
        now, tz = _answer_postgres(db, fingerprint, now_text)
    else:
        now, tz = _answer_sqlite(db, fingerprint, now_text)
    doc = summary.run_doc(now, tz)
    return (summary.run_json(doc) if fmt == "json" else summary.run_line(doc)) + "\n"


def _answer_sqlite(db: str, fingerprint: str, now_text: str | None) -> tuple[datetime, str]:
    if not os.path.isfile(db):
        raise Fallback("no database yet")  # before the lock file is created next to it
    try:
        from journeyctl.store.lock import LockHeld, run_lock
    except ImportError:  # no fcntl (not POSIX): the full command decides what to do
        raise Fallback("no fcntl here") from None
    try:
        with run_lock(db):
            store = IdleDatabase(db, BUSY_TIMEOUT_S)
            try:
                with store.transaction():
                    now, tz = _check_and_record(store, fingerprint, now_text)
            finally:
                store.close()
    except LockHeld:
        raise Fallback("another run holds the lock") from None
    except NotIdle as why:
        raise Fallback(str(why)) from None
    except sqlite3.Error as exc:
        raise Fallback(f"database: {exc}") from None
    except OSError as exc:  # the lock file cannot be created (a read-only directory, ...)
        raise Fallback(f"the run lock: {exc}") from None
    return now, tz


def _answer_postgres(db: str, fingerprint: str, now_text: str | None) -> tuple[datetime, str]:
    """The same question on PostgreSQL, in one transaction: no run lock (several workers
    share the database; a live run's claims make the minute busy, and the full command runs).
    psycopg is imported here only."""
    try:
        import psycopg

        from journeyctl.store.postgres.idle import PostgresIdleDatabase
    except ImportError:  # no [postgres] extra: the full command says what to install
        raise Fallback("psycopg is not installed") from None
    try:
        store = PostgresIdleDatabase(db, BUSY_TIMEOUT_S * 20)
        try:
            with store.transaction():
                return _check_and_record(store, fingerprint, now_text)
        finally:
            store.close()
    except NotIdle as why:
        raise Fallback(str(why)) from None
    except psycopg.Error as exc:
        raise Fallback(f"database: {type(exc).__name__}") from None  # never the URL


def _check_and_record(
    store: IdleDatabase, fingerprint: str, now_text: str | None
) -> tuple[datetime, str]:
    meta = store.meta(META_KEY, "timezone")
    stored, schema, tz = parse_meta_value(meta.get(META_KEY))
    if stored != fingerprint:
        raise NotIdle("project files, journeyctl version or project path changed")
    if schema != str(LATEST):
        raise NotIdle("the database schema changed since the last full run")
    if meta.get("timezone") != tz:
        raise NotIdle("the stored timezone differs")  # a full run would rewrite it
    try:
        ZoneInfo(tz)
    except Exception:  # ZoneInfoNotFoundError, ValueError: the full command reports it
        raise NotIdle(f"unknown timezone {tz!r}") from None
    started = _wall()
    try:
        now = parse_instant(now_text, tz, option="--now") if now_text else started
    except UsageError:  # the full command says why, with its exit code
        raise NotIdle("--now is not an instant in range") from None
    busy = store.why_busy(now)
    if busy is not None:
        raise NotIdle(busy)
    store.record_idle_run(started, now, _wall())
    return now, tz


def _wall() -> datetime:
    # journeyctl.clock.SystemClock's reading, without paying for its typing import.
    return datetime.now(UTC)  # noqa: TID251
