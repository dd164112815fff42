"""`messages --format json` is written as the ledger is read (issue 19): the same bytes as the
whole-list document, on SQLite and PostgreSQL, with memory that does not follow the ledger."""

from __future__ import annotations

import json
import tracemalloc
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeyctl.cli import _register, app
from journeyctl.cli.db_render import messages_doc
from journeyctl.cli.output import json_safe
from journeyctl.engine.model import Status
from journeyctl.store import queries
from journeyctl.store.open import open_store
from journeyctl.store.queries import batches, stored_messages
from tests.builders import contact
from tests.store.test_contract import BORN, T0, msg, save_messages

_register()

# Zones: the contact's own, none (the project's), and one that does not exist (the project's).
_ZONES = ("Asia/Seoul", None, "America/New_York", "Mars/Olympus")


def fill(db: str, contacts: int) -> None:
    """`contacts` contacts with five ledger rows each, in every delivery state, with text a
    terminal would obey and text that is not ASCII."""
    store = open_store(db)
    try:
        with store.transaction():
            store.upsert_contacts(
                [contact(f"c{i}", tz=_ZONES[i % len(_ZONES)]) for i in range(contacts)], born=BORN
            )
            for i in range(contacts):
                cid, when = f"c{i}", T0 + timedelta(minutes=i)
                save_messages(
                    store,
                    cid,
                    msg(f"{cid}-a", cid, "hello", when, subject="환영합니다 \x1b[31m\x85", to="x@y"),
                    msg(f"{cid}-b", cid, "two", when + timedelta(days=1), subject="Two\n"),
                    msg(f"{cid}-c", cid, "three", when + timedelta(days=2)),
                    msg(f"{cid}-d", cid, "four", when + timedelta(days=3), variant="B"),
                    msg(f"{cid}-e", cid, "five", when + timedelta(days=4),
                        status=Status.SKIPPED, reason="quiet hours \u2028"),
                )  # fmt: skip
        for i in range(contacts):
            cid = f"c{i}"
            store.mark_sent(f"{cid}-a", T0 + timedelta(hours=1, minutes=i))
            store.mark_retry(f"{cid}-b", T0 + timedelta(days=2), "503 \x1b]0;title\x07 busy")
            store.mark_failed(f"{cid}-c", "400 bad payload \u0085")
    finally:
        store.close()


def invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})
    return r.exit_code, r.stdout, r.stderr


def whole_document(db: str, **which: object) -> str:
    """What `messages --format json` wrote before it streamed: the list, then the document."""
    store = open_store(db)
    try:
        rows = stored_messages(store, **which)  # type: ignore[arg-type]
    finally:
        store.close()
    doc = messages_doc(rows, "UTC")
    return json_safe(json.dumps(doc, ensure_ascii=False, indent=2)) + "\n"


CASES = [
    (["--status", "all"], {"statuses": None}),
    ([], {}),
    (["--status", "retrying"], {"statuses": ("retrying",)}),
    (["--status", "skipped", "--contact", "c3"], {"statuses": ("skipped",), "contact": "c3"}),
    (["--contact", "nobody"], {"contact": "nobody"}),  # no rows: `[]`
]


@pytest.mark.parametrize(("args", "which"), CASES)
def test_the_streamed_json_is_the_whole_document(
    db_url: str,
    tmp_path: Path,
    args: list[str],
    which: dict[str, object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fill(db_url, 12)
    monkeypatch.setattr(queries, "BATCH", 7)  # batches that end inside a contact's rows
    expected = whole_document(db_url, **which)
    if args == ["--status", "all"]:
        assert len(json.loads(expected)) == 60
    code, stdout, err = invoke("messages", "--db", db_url, "--format", "json", *args)
    assert code == 0, err
    assert stdout == expected
    target = tmp_path / "messages.json"
    code, _, err = invoke("messages", "--db", db_url, "--out", str(target), *args)
    assert code == 0, err
    assert target.read_bytes() == expected.encode()
    assert not target.with_name("messages.json.tmp").exists()


def peak_bytes(db: str, out: Path) -> int:
    """The peak of Python's allocations while `messages` runs in this process."""
    tracemalloc.start()
    try:
        code, _, err = invoke("messages", "--db", db, "--status", "all", "--out", str(out))
        assert code == 0, err
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_follow_the_ledger(
    new_db: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small batches, so that the small ledger already fills several. Holding the rows, their
    # documents or the whole JSON text (as `messages` did before) adds several KB a row.
    monkeypatch.setattr(queries, "BATCH", 20)
    small, large = new_db(tmp_path / "small"), new_db(tmp_path / "large")  # type: ignore[operator]
    fill(small, 40)  # 200 rows
    fill(large, 240)  # 1,200 rows
    out = tmp_path / "out.json"
    peak_bytes(small, out)  # the first run's one-time costs (imports)
    peak_small = peak_bytes(small, out)
    grew = peak_bytes(large, out) - peak_small
    print(f"peak grew {grew} bytes from 200 to 1,200 ledger rows")
    assert len(json.loads(out.read_text(encoding="utf-8"))) == 1200
    assert grew < 100 * 1000, f"peak grew {grew} bytes from 200 to 1,200 ledger rows"


def test_postgres_reads_through_a_server_side_cursor(pg_url: str) -> None:
    # tracemalloc does not see libpq's memory, where an ordinary cursor holds the whole result:
    # the cursor must be the server's, open while the batches are read.
    fill(pg_url, 10)
    store = open_store(pg_url)
    try:
        sql = "SELECT key FROM ledger ORDER BY id"
        read = batches(store, sql, [], 8)
        first = next(read)
        assert len(first) == 8
        cursors = store.raw.execute("SELECT name FROM pg_cursors").fetchall()
        assert cursors == [("journeyctl_batches",)]
        rest = [r for rows in read for r in rows]
        assert [r[0] for r in first + rest] == [r[0] for r in store.conn.execute(sql)]
    finally:
        store.close()
