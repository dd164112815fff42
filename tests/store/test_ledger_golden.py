"""The ledger's rows, fixed: the database format is a contract (older and newer journeyctl read
the same file), so how a message becomes a row, and a row a message, stays as it is."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from journeyctl.engine.model import Message, Status, StepResult
from journeyctl.store.open import open_store
from journeyctl.store.sqlite import SqliteStore
from tests.builders import contact
from tests.store.test_contract import BORN

AT = datetime(2026, 11, 2, 1, 2, 3, 4, tzinfo=UTC)  # 1793581323000004 µs since the epoch
FULL = Message(
    "k1", "c1", "welcome", "hello", "email", AT, Status.SKIPPED, "welcome:c1:0", True, "late",
    datetime(2026, 11, 1, 13, tzinfo=UTC), "quiet_hours", "b", '(광고) "안녕"', "t\n", "<p>h</p>",
    "c1@example.com", "https://example.com/u/x",
)  # fmt: skip
SENT = Message(None, "c1", "welcome", "next", "sms", AT, Status.SENT, "welcome:c1:0", False)
CLAIMED = Message("k3", "c1", "vip", "hi", "email", AT, Status.SENT, "vip:c1:0", False)
FAILED = Message(
    "k4", "c1", "vip", "bye", "email", AT, Status.SKIPPED, "vip:c1:0", False, "render_error"
)

GOLDEN = [
    (1, "k1", "c1", "welcome", "hello", "email", 1793581323000004, "skipped", "welcome:c1:0", 1,
     "late", 1793538000000000, "quiet_hours", "b", '(광고) "안녕"', "t\n", "<p>h</p>",
     "c1@example.com", "https://example.com/u/x", "skipped", 0, None, None, None, None, None),
    (2, "3949128ec1662c42658f38b7b08d6d66", "c1", "welcome", "next", "sms", 1793581323000004,
     "sent", "welcome:c1:0", 0, None, None, None, None, None, None, None, None, None, "planned",
     0, 1793581323000004, None, None, None, None),
    (3, "k3", "c1", "vip", "hi", "email", 1793581323000004, "sent", "vip:c1:0", 0, None, None,
     None, None, None, None, None, None, None, "attempting", 1, 1793581323000004, None, None,
     None, None),
    (4, "k4", "c1", "vip", "bye", "email", 1793581323000004, "skipped", "vip:c1:0", 0,
     "render_error", None, None, None, None, None, None, None, None, "failed", 0, None, None,
     None, "render: boom", None),
]  # fmt: skip


def test_ledger_rows_are_the_golden_and_read_back_whole(tmp_path: Path, db_url: str) -> None:
    store = open_store(db_url)
    store.upsert_contacts([contact("c1")], born=BORN)
    with store.transaction():
        state = store.load("c1")
        state.messages += [FULL, SENT]
        store.save_many([(state, StepResult(messages=[FULL, SENT]))])
    with store.transaction():
        state = store.load("c1")
        state.messages += [CLAIMED, FAILED]
        result = StepResult(messages=[CLAIMED, FAILED], failures=[(FAILED, "render: boom")])
        store.save_many([(state, result)], claim=AT)
    # SQLite's columns, in SQLite's order (PostgreSQL adds its lease column after them).
    columns = ", ".join(sqlite_columns(tmp_path, "ledger"))
    rows = store.conn.execute(f"SELECT {columns} FROM ledger ORDER BY id").fetchall()
    assert [tuple(r) for r in rows] == GOLDEN
    assert [r.message for r in store.ledger()] == [FULL, SENT, CLAIMED, FAILED]
    assert store.load("c1").messages == [FULL, SENT, CLAIMED, FAILED]
    # The tick's load leaves out what the engine never reads back.
    (history,) = store.load_many(["c1"])
    bare = {"subject": None, "text": None, "html": None, "to": None, "unsubscribe_url": None}
    assert history.messages[0] == Message(**{**_as_dict(FULL), **bare})
    store.close()


def sqlite_columns(tmp_path: Path, table: str) -> list[str]:
    """The columns of a table in a fresh SQLite store, in order."""
    lite = SqliteStore(tmp_path / "columns.db")
    try:
        return [r[1] for r in lite.conn.execute(f"PRAGMA table_info({table})")]
    finally:
        lite.close()


def _as_dict(m: Message) -> dict[str, object]:
    return {name: getattr(m, name) for name in Message.__dataclass_fields__}
