"""The idle cron minute (journeyctl.run.idle, the fast path) through real subprocesses and
SQLite files; the tests marked BOTH run on a PostgreSQL database too.

Every test starts from a database that a full `run` has brought up to date (so run.once
has recorded the project fingerprint) and then checks when `run` is answered without the
full CLI (JOURNEYCTL_TRACE_FASTPATH says so on stderr) and that it is indistinguishable from
the full command when it is.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from journeyctl.run import idle as fastpath
from journeyctl.spec import fingerprint
from journeyctl.store.lock import run_lock
from journeyctl.store.migrations import LATEST
from tests.builders import build_tree
from tests.db import execute, query

JOURNEY = """
timezone: Asia/Seoul
unsubscribe_secret: test-only-unsubscribe-secret  # `run` refuses to start without one
channels:
  email: {type: file, path: outbox/, medium: email}
"""

WELCOME = """
sequence: welcome
trigger: {event: subscribed}
steps:
  - send: hello
    channel: email
    subject: "Hi {{ contact.name }}"
    template: hello.txt
  - wait: 1d
  - send: again
    channel: email
    subject: "Again"
    body: "again"
"""

CONTACTS = "id,email,name,timezone\nc1,c1@example.com,Kim,Asia/Seoul\n"
EVENTS = "contact_id,event,at\nc1,subscribed,2026-11-02T10:00:00+09:00\n"
T0 = "2026-11-02T10:05:00+09:00"  # c1 enters and gets `hello`; `again` is due a day later
IDLE = "2026-11-02T12:00:00+09:00"
DUE = "2026-11-03T10:05:00+09:00"
IDLE_LINE = (
    "run at 2026-11-02 12:00 +09:00: 0 contact(s) advanced, 0 to send, 0 skipped, "
    "0 delivered, 0 retrying, 0 failed\n"
)


def jrun(
    proj: Path, *args: str, full: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m journeyctl run PROJECT --db DB ARGS`, traced; `full`: fast path disabled."""
    e = {**os.environ, fastpath.TRACE_ENV: "1", **(env or {})}
    e.pop(fastpath.DISABLE_ENV, None)
    if full:
        e[fastpath.DISABLE_ENV] = "1"
    argv = [sys.executable, "-m", "journeyctl", "run", str(proj / "p"), "--db", str(db(proj))]
    return subprocess.run([*argv, *args], capture_output=True, text=True, env=e, cwd=proj)


def db(proj: Path) -> Path:
    """The test's database: a SQLite file, or (BOTH tests) a PostgreSQL URL, kept in a
    Path as `--db` takes it (str() gives the URL back for a URL kept as a plain string)."""
    url = proj / "db.url"
    if url.exists():
        return PgUrl(url.read_text(encoding="utf-8"))  # type: ignore[return-value]
    return proj / "j.db"


class PgUrl(str):
    """A PostgreSQL URL where the tests pass a path around."""


def took_fast_path(r: subprocess.CompletedProcess[str]) -> bool:
    return "fastpath: idle" in r.stderr


def fallback_reason(r: subprocess.CompletedProcess[str]) -> str:
    for line in r.stderr.splitlines():
        if line.startswith("fastpath: full run ("):
            return line
    raise AssertionError(f"the fast path was not consulted: {r.stderr!r}")


def runs(proj: Path) -> list[tuple[object, ...]]:
    return query(
        db(proj),
        "SELECT now, dry_run, contacts, decided, skipped, delivered, retrying, failed, "
        "recovered, exit_code, error, CASE WHEN finished_at >= started_at THEN 1 ELSE 0 END "
        "FROM runs ORDER BY id",
    )


def sql(proj: Path, statement: str) -> None:
    execute(db(proj), statement)


@pytest.fixture
def store_kind() -> str:
    """SQLite, unless a test is marked BOTH (tests/conftest.py's db_url)."""
    return "sqlite"


BOTH = pytest.mark.parametrize("store_kind", ["sqlite", "postgres"])


@pytest.fixture
def proj(tmp_path: Path, store_kind: str, request: pytest.FixtureRequest) -> Path:
    if store_kind == "postgres":
        url = request.getfixturevalue("pg_url")
        (tmp_path / "db.url").write_text(url, encoding="utf-8")
    build_tree(
        tmp_path,
        {
            "p/journey.yaml": JOURNEY,
            "p/welcome.yaml": WELCOME,
            "p/templates/hello.txt": "hello {{ contact.name }}\n",
            "contacts.csv": CONTACTS,
            "events.csv": EVENTS,
        },
    )
    imported = jrun(tmp_path, "--contacts", "contacts.csv", "--events", "events.csv", "--now", T0)
    assert imported.returncode == 0, imported.stderr
    assert "1 delivered" in imported.stdout
    assert "option '--contacts' is left to the full command" in fallback_reason(imported)
    # A plain run: the fast path has no fingerprint yet, the full run records one.
    first = jrun(tmp_path, "--now", T0)
    assert "project files" in fallback_reason(first)
    assert first.returncode == 0 and " 0 delivered" in first.stdout
    return tmp_path


# --- taken when idle, and indistinguishable from the full command --------------------------


@BOTH
def test_idle_tick_is_answered_fast_with_the_full_commands_output(proj: Path) -> None:
    for fmt in ("text", "json"):
        fast = jrun(proj, "--now", IDLE, "--format", fmt)
        full = jrun(proj, "--now", IDLE, "--format", fmt, full=True)
        assert took_fast_path(fast) and not took_fast_path(full)
        assert (fast.returncode, fast.stdout) == (full.returncode, full.stdout)
        assert fast.returncode == 0
        assert full.stderr == ""  # tracing is off with the fast path disabled: same stderr
    assert fast.stdout == full.stdout and json.loads(fast.stdout)["now"] == IDLE


def test_the_deprecated_format_table_goes_to_the_full_command_which_says_so(proj: Path) -> None:
    jrun(proj, "--now", IDLE)  # records the fingerprint: the next idle tick could go fast
    r = jrun(proj, "--now", IDLE, "--format", "table")
    assert not took_fast_path(r) and r.returncode == 0
    assert r.stdout == IDLE_LINE
    assert "--format table is deprecated" in r.stderr and "use --format text" in r.stderr
    assert jrun(proj, "--now", IDLE).stdout == IDLE_LINE


@BOTH
def test_the_fast_path_records_the_same_runs_row_as_the_full_command(proj: Path) -> None:
    before = len(runs(proj))
    assert took_fast_path(jrun(proj, "--now", IDLE))
    assert not took_fast_path(jrun(proj, "--now", IDLE, full=True))
    *_, fast_row, full_row = runs(proj)
    assert len(runs(proj)) == before + 2
    assert fast_row == full_row
    assert fast_row[0] == int(datetime.fromisoformat(IDLE).timestamp()) * 1_000_000
    # `status` sees it as the last run.
    e = {**os.environ, fastpath.DISABLE_ENV: "1"}
    status = subprocess.run(
        [sys.executable, "-m", "journeyctl", "status", "--db", str(db(proj)), "--format", "json"],
        capture_output=True,
        text=True,
        env=e,
    )
    assert status.returncode == 0, status.stderr
    assert status.stdout.count('"exit_code": 0') >= 1


def test_no_heavy_module_is_imported_on_the_fast_path(proj: Path) -> None:
    code = (
        "import sys\n"
        "from journeyctl.run.idle import attempt\n"
        f"rc, _ = attempt([{str(proj / 'p')!r}, '--db', {str(db(proj))!r}, '--now', {IDLE!r}])\n"
        "heavy = sorted(m for m in ('typer', 'click', 'rich', 'pydantic', 'jinja2', 'yaml',"
        " 'journeyctl.cli', 'journeyctl.run.once', 'journeyctl.engine', 'journeyctl.store.sqlite',"
        " 'typing') if m in sys.modules)\n"
        "print(rc, heavy, file=sys.stderr)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=proj)
    assert r.stderr.strip() == "0 []", r.stderr
    assert r.stdout == IDLE_LINE


def test_the_console_script_takes_the_fast_path(proj: Path) -> None:
    script = Path(sys.executable).parent / "journeyctl"
    if not script.exists():
        pytest.skip("no console script next to this interpreter (not installed with pip -e?)")
    e = {**os.environ, fastpath.TRACE_ENV: "1"}
    e.pop(fastpath.DISABLE_ENV, None)
    r = subprocess.run(
        [str(script), "run", str(proj / "p"), f"--db={db(proj)}", "--now", IDLE],
        capture_output=True,
        text=True,
        env=e,
    )
    assert took_fast_path(r) and r.stdout == IDLE_LINE and r.returncode == 0


def test_default_project_dir_and_db_relative_to_the_working_directory(proj: Path) -> None:
    e = {**os.environ, fastpath.TRACE_ENV: "1"}
    e.pop(fastpath.DISABLE_ENV, None)
    (proj / "p" / "journey.db").write_bytes(db(proj).read_bytes())  # cwd p: `run` with defaults
    r = subprocess.run(
        [sys.executable, "-m", "journeyctl", "run", "--now", IDLE],
        capture_output=True,
        text=True,
        env=e,
        cwd=proj / "p",
    )
    # The same absolute project path as the fixture's runs: the copied fingerprint holds.
    assert took_fast_path(r) and r.stdout == IDLE_LINE
    assert (proj / "p" / "journey.db.lock").exists()


# --- not taken when the tick would do something --------------------------------------------


@BOTH
def test_due_contacts_go_to_the_full_run_which_delivers(proj: Path) -> None:
    r = jrun(proj, "--now", DUE)
    assert "contacts are due" in fallback_reason(r)
    assert r.returncode == 0 and " 1 delivered" in r.stdout
    assert took_fast_path(jrun(proj, "--now", DUE))  # and the minute after is idle again


@BOTH
def test_due_and_interrupted_deliveries_go_to_the_full_run(proj: Path) -> None:
    sql(proj, "UPDATE ledger SET state = 'retry', next_attempt_at = 0 WHERE step = 'hello'")
    r = jrun(proj, "--now", IDLE, "--format", "json")
    assert "deliveries are due" in fallback_reason(r)
    assert json.loads(r.stdout)["delivered"] == 1  # the outbox reconciles: no repeat
    # A delivery left `attempting` (its tick died), even one claimed a second ago: the full
    # run under the lock recovers every such row, so the fast path must not answer.
    sql(proj, "UPDATE ledger SET state = 'attempting', next_attempt_at = 1893456000000000")
    r = jrun(proj, "--now", IDLE, "--format", "json")
    assert "interrupted deliveries" in fallback_reason(r)
    assert json.loads(r.stdout)["recovered"] == 1
    assert took_fast_path(jrun(proj, "--now", IDLE))


@BOTH
def test_a_planned_delivery_not_yet_due_does_not_stop_the_fast_path(proj: Path) -> None:
    sql(proj, "UPDATE ledger SET state = 'planned', next_attempt_at = 1893456000000000")
    assert took_fast_path(jrun(proj, "--now", IDLE))
    r = jrun(proj, "--now", "2030-01-01T09:00:00+09:00")  # 1893456000 s = 2030-01-01 00:00Z
    assert "due" in fallback_reason(r)


@pytest.mark.parametrize(
    ("path", "change"),
    [
        ("welcome.yaml", "\n# a comment is still a change\n"),
        ("journey.yaml", "\n# edited\n"),
        ("templates/hello.txt", "!"),
        ("templates/new/part.txt", "a new template"),
        ("second.yml", "sequence: second\ntrigger: {event: other}\nsteps:\n  - exit: done\n"),
    ],
)
def test_a_changed_project_file_goes_to_the_full_run(proj: Path, path: str, change: str) -> None:
    f = proj / "p" / path
    f.parent.mkdir(parents=True, exist_ok=True)
    with f.open("a", encoding="utf-8") as fh:
        fh.write(change)
    r = jrun(proj, "--now", IDLE)
    assert "project files" in fallback_reason(r)
    assert r.returncode == 0 and r.stdout == IDLE_LINE
    assert took_fast_path(jrun(proj, "--now", IDLE))  # the full run recorded the new files


def test_files_run_does_not_load_are_not_part_of_the_fingerprint(proj: Path) -> None:
    (proj / "p" / "README.md").write_text("notes", encoding="utf-8")
    (proj / "p" / "outbox" / "extra.jsonl").write_text("", encoding="utf-8")
    assert took_fast_path(jrun(proj, "--now", IDLE))


def test_an_invalid_project_is_reported_by_the_full_run_every_time(proj: Path) -> None:
    wf = proj / "p" / "welcome.yaml"
    good = wf.read_text(encoding="utf-8")
    wf.write_text(good.replace("wait: 1d", "wait: soon"), encoding="utf-8")
    for _ in range(2):  # a failed load records nothing: still the full run next minute
        r = jrun(proj, "--now", IDLE)
        assert "project files" in fallback_reason(r) and r.returncode == 1
    wf.write_text(good, encoding="utf-8")  # back to the files a full run loaded
    assert took_fast_path(jrun(proj, "--now", IDLE))


def test_another_journeyctl_version_goes_to_the_full_run(proj: Path) -> None:
    code = (
        "import sys, journeyctl\n"
        "journeyctl.__version__ = '99.0'\n"
        "from journeyctl.run.idle import attempt\n"
        f"print(attempt([{str(proj / 'p')!r}, '--db', {str(db(proj))!r}, '--now', {IDLE!r}])[0])\n"
    )
    e = {**os.environ, fastpath.TRACE_ENV: "1"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e)
    assert r.stdout == "None\n" and "project files, journeyctl version" in r.stderr


def test_missing_or_unmigrated_database_goes_to_the_full_run(proj: Path) -> None:
    db(proj).rename(proj / "old.db")
    r = jrun(proj, "--now", IDLE)
    assert "no database yet" in fallback_reason(r) and r.returncode == 0
    db(proj).unlink()
    sqlite3.connect(db(proj)).close()  # an empty file: schema version 0
    r = jrun(proj, "--now", IDLE)
    assert "schema" in fallback_reason(r)
    assert r.returncode == 0 and r.stdout == IDLE_LINE  # the full run migrated it


@BOTH
def test_a_different_stored_timezone_goes_to_the_full_run(proj: Path) -> None:
    sql(proj, "UPDATE meta SET value = 'UTC' WHERE name = 'timezone'")
    r = jrun(proj, "--now", IDLE)
    assert "timezone" in fallback_reason(r) and r.stdout == IDLE_LINE
    assert took_fast_path(jrun(proj, "--now", IDLE))


def test_a_held_lock_goes_to_the_full_run_which_says_so(proj: Path) -> None:
    with run_lock(db(proj)):
        r = jrun(proj, "--now", IDLE)
    assert "another run holds the lock" in fallback_reason(r)
    assert r.returncode == 0 and "another run holds the lock" in r.stderr.splitlines()[-1]


@pytest.mark.parametrize(
    "extra",
    [
        ["--dry-run"],
        ["--events", "events.csv"],
        ["--contacts", "contacts.csv"],
        ["--encoding", "utf-8"],
        ["--help"],
        ["--limit", "0"],
        ["--format", "csv"],
        ["--now", "yesterday"],
    ],
)
def test_options_it_does_not_handle_go_to_the_full_command(proj: Path, extra: list[str]) -> None:
    now = [] if "--now" in extra else ["--now", IDLE]
    fast = jrun(proj, *now, *extra)
    full = jrun(proj, *now, *extra, full=True)
    assert not took_fast_path(fast)
    assert (fast.returncode, fast.stdout) == (full.returncode, full.stdout)


def test_a_limit_is_understood(proj: Path) -> None:
    r = jrun(proj, "--now", IDLE, "--limit", "5")
    assert took_fast_path(r) and r.stdout == IDLE_LINE


# --- units ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--db"],
        ["--db", ""],
        ["--db", "--now"],
        ["a", "b"],
        ["--now", "x", "--now", "y"],
        ["--", "p"],
        ["-"],
        ["--limit", "1_0"],
        ["--limit=٣"],
        ["--format", "JSON"],
        ["--db-file", "x"],
    ],
)
def test_parse_run_args_refuses_what_it_does_not_fully_understand(args: list[str]) -> None:
    with pytest.raises(fastpath.Fallback):
        fastpath.parse_run_args(args)


def test_parse_run_args_defaults_and_equals_forms() -> None:
    assert fastpath.parse_run_args([]) == {
        "project": ".",
        "db": "journey.db",
        "now": None,
        "format": "text",
        "limit": None,
    }
    inv = fastpath.parse_run_args(["--db=x.db", "proj", "--now=2026-11-01", "--format=json"])
    assert (inv["project"], inv["db"], inv["now"], inv["format"]) == (
        "proj",
        "x.db",
        "2026-11-01",
        "json",
    )


def test_a_fingerprint_is_recorded_only_if_the_files_did_not_change_during_the_run(
    tmp_path: Path,
) -> None:
    build_tree(tmp_path, {"p/journey.yaml": JOURNEY, "p/welcome.yaml": WELCOME})
    root = tmp_path / "p"
    before = fingerprint.project_fingerprint(root)
    assert fingerprint.unchanged_fingerprint(root, before) == before
    assert fingerprint.unchanged_fingerprint(root, None) is None  # none hashed before
    (root / "welcome.yaml").write_text(WELCOME + "\n", encoding="utf-8")  # edited mid-run
    assert fingerprint.unchanged_fingerprint(root, before) is None


def test_the_fingerprint_follows_template_symlinks_and_refuses_loops(tmp_path: Path) -> None:
    build_tree(tmp_path, {"p/journey.yaml": JOURNEY, "shared/part.txt": "a"})
    (tmp_path / "p" / "templates").mkdir()
    (tmp_path / "p" / "templates" / "shared").symlink_to(tmp_path / "shared")
    first = fingerprint.project_fingerprint(tmp_path / "p")
    (tmp_path / "shared" / "part.txt").write_text("b", encoding="utf-8")
    assert fingerprint.project_fingerprint(tmp_path / "p") != first
    (tmp_path / "shared" / "loop").symlink_to(tmp_path / "shared")
    with pytest.raises(fingerprint.FingerprintError, match="symlink loop"):
        fingerprint.project_fingerprint(tmp_path / "p")


def test_a_template_only_fix_wakes_a_held_contact_and_ends_the_idle_answer(
    tmp_path: Path,
) -> None:
    # One fingerprint (spec.manifest): what the idle minute compares is what a held contact
    # waits on. A template that fails for c1 holds it; the idle minute is answered while
    # nothing changes; fixing the template alone goes to the full run, which retries c1.
    build_tree(
        tmp_path,
        {
            "p/journey.yaml": JOURNEY,
            "p/welcome.yaml": WELCOME,
            "p/templates/hello.txt": "hello {{ 1 // 0 }}\n",
            "contacts.csv": CONTACTS,
            "events.csv": EVENTS,
        },
    )
    held = jrun(tmp_path, "--contacts", "contacts.csv", "--events", "events.csv", "--now", T0)
    assert held.returncode == 1 and "1 failed" in held.stdout, held.stdout + held.stderr
    assert "project files" in fallback_reason(jrun(tmp_path, "--now", T0))  # records it
    assert took_fast_path(jrun(tmp_path, "--now", IDLE))  # held: nothing to do
    (tmp_path / "p/templates/hello.txt").write_text("hello {{ contact.name }}\n", "utf-8")
    fixed = jrun(tmp_path, "--now", IDLE)
    assert "project files" in fallback_reason(fixed)
    assert fixed.returncode == 0 and " 1 delivered" in fixed.stdout, fixed.stdout + fixed.stderr
    assert took_fast_path(jrun(tmp_path, "--now", IDLE))


@BOTH
def test_a_recorded_fingerprint_from_another_schema_goes_to_the_full_run(proj: Path) -> None:
    # The schema version is stored beside the fingerprint (spec.fingerprint.meta_value).
    ((value,),) = query(db(proj), "SELECT value FROM meta WHERE name = ?", (fingerprint.META_KEY,))
    stored, schema, tz = fingerprint.parse_meta_value(value)
    assert (schema, tz) == (str(LATEST), "Asia/Seoul")
    older = fingerprint.meta_value(stored, LATEST - 1, tz)
    sql(proj, f"UPDATE meta SET value = '{older}' WHERE name = '{fingerprint.META_KEY}'")
    r = jrun(proj, "--now", IDLE)
    assert "schema" in fallback_reason(r)
    assert r.returncode == 0 and r.stdout == IDLE_LINE
    assert took_fast_path(jrun(proj, "--now", IDLE))  # the full run recorded it again
