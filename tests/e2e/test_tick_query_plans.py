"""Flat cost as history grows: every statement a tick runs finds its rows through an index,
never by scanning a table whose size is the history (ledger, enrollments, events, contacts).

The statements are captured from a real tick (recovery, advance, claims, delivery, retries)
with their parameters, then explained on the same database.

SQLite only: the plans are SQLite's EXPLAIN QUERY PLAN.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from journeyctl.channels.base import Receipt
from journeyctl.engine.make import make_engine
from journeyctl.engine.model import Contact, Event, Message
from journeyctl.errors import TransientChannelError
from journeyctl.run.imports import import_contacts, import_events
from journeyctl.run.tick import tick
from journeyctl.spec import load_valid_project
from journeyctl.store.sqlite import SqliteStore
from tests.builders import build_tree
from tests.e2e.project import START
from tests.e2e.test_tick_ledger_order import JOURNEY, PING

HISTORY_TABLES = ("ledger", "enrollments", "events", "contacts", "contact_state")


class Flaky:
    """Refuses every third message (transient), so retries and claims happen too."""

    name, medium = "email", "email"

    def __init__(self) -> None:
        self.n = 0

    def open(self) -> None:
        pass

    def deliver(self, message: Message) -> Receipt:
        self.n += 1
        if self.n % 3 == 0:
            raise TransientChannelError("421 try later")
        return Receipt(message.key)

    def close(self) -> None:
        pass


def test_every_tick_statement_uses_an_index(tmp_path: Path) -> None:
    root = build_tree(tmp_path / "p", {"journey.yaml": JOURNEY, "ping.yaml": PING})
    engine = make_engine(load_valid_project(root))
    db = tmp_path / "j.db"
    store = SqliteStore(db)
    people = [Contact(f"c{i:03d}", f"c{i}@example.com", name=f"N{i}") for i in range(60)]
    import_contacts(store, people, START)
    import_events(store, [Event(c.id, "ping", START) for c in people], START, timedelta(days=1))
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)  # expanded SQL, parameters bound
    channel = Flaky()
    for hours in (1, 2, 30):  # first tick, then retries of the refused ones
        tick(engine, store, {"email": channel}, START + timedelta(hours=hours))
    tick(engine, store, {"email": channel}, START + timedelta(hours=31), limit=5)
    store.conn.set_trace_callback(None)
    # No ANALYZE: the store never runs it, so the planner works without statistics.
    explain = sqlite3.connect(db)
    scans = []
    for sql in dict.fromkeys(statements):
        head = sql.lstrip().split(None, 1)[0].upper()
        if head not in ("SELECT", "UPDATE", "INSERT", "DELETE", "WITH"):
            continue
        for row in explain.execute(f"EXPLAIN QUERY PLAN {sql}"):
            detail = row[3]
            table_scan = any(
                detail == f"SCAN {t}" or detail.startswith(f"SCAN {t} ") for t in HISTORY_TABLES
            )
            if table_scan and "USING INDEX" not in detail and "USING COVERING INDEX" not in detail:
                scans.append((detail, sql[:160]))
    assert len(statements) > 20
    assert scans == []
    explain.close()
    store.close()
