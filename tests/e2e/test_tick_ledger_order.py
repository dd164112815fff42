"""The order of writes in one tick, seen from a second connection (what survives a crash):
a message is `attempting` in the committed ledger before its channel sees it, and a
reconcilable channel has synced it before the ledger says `sent`."""

from __future__ import annotations

import gc
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from journeyctl.channels.base import Receipt
from journeyctl.engine.model import Contact, Event, Message
from journeyctl.imports import import_contacts, import_events
from journeyctl.runtime import GC_THRESHOLD, tick
from journeyctl.simulate import make_engine
from journeyctl.spec import load_valid_project
from journeyctl.store.sqlite import SqliteStore
from tests.builders import build_tree
from tests.e2e.project import START

JOURNEY = """
timezone: Asia/Seoul
channels:
  email: {type: file, path: outbox/, medium: email}
"""
PING = """
sequence: ping
trigger: {event: ping}
ad: false
transactional: true
steps:
  - send: pong
    channel: email
    subject: "pong {{ contact.name }}"
    body: "pong"
"""


class Watcher:
    """A reconcilable channel that reads the committed ledger through its own connection."""

    name, medium = "email", "email"

    def __init__(self, db: Path) -> None:
        self.conn = sqlite3.connect(db)
        self.seen_states: list[str] = []
        self.at_sync: list[str] = []
        self.keys: list[str] = []

    def state(self, key: str) -> str:
        return str(
            self.conn.execute("SELECT state FROM ledger WHERE key = ?", (key,)).fetchone()[0]
        )

    def open(self) -> None:
        pass

    def deliver(self, message: Message) -> Receipt:
        self.seen_states.append(self.state(message.key))
        self.keys.append(message.key)
        return Receipt(message.key)

    def already_delivered(self, key: str) -> bool:
        return key in self.keys

    def sync(self) -> None:
        self.at_sync += [self.state(k) for k in self.keys]

    def close(self) -> None:
        pass


def test_attempting_is_committed_before_delivery_and_sent_after_sync(tmp_path: Path) -> None:
    root = build_tree(tmp_path / "p", {"journey.yaml": JOURNEY, "ping.yaml": PING})
    project = load_valid_project(root)
    db = tmp_path / "j.db"
    store = SqliteStore(db)
    people = [Contact(f"c{i:04d}", f"c{i}@example.com", name=f"N{i}") for i in range(1200)]
    import_contacts(store, people, START)
    import_events(store, [Event(c.id, "ping", START) for c in people], START, timedelta(days=1))
    watcher = Watcher(db)
    report = tick(make_engine(project), store, {"email": watcher}, START + timedelta(minutes=1))
    assert report.delivered == 1200 and report.ok
    assert set(watcher.seen_states) == {"attempting"}  # committed before the channel saw it
    assert watcher.at_sync and set(watcher.at_sync) <= {"attempting", "sent"}
    assert watcher.at_sync.count("attempting") >= 1200  # every message synced before `sent`
    assert {watcher.state(k) for k in watcher.keys} == {"sent"}
    assert len(set(watcher.keys)) == 1200
    store.close()
    watcher.conn.close()


class Failing(Watcher):
    """Records the collector's threshold while delivering, then fails the tick."""

    def deliver(self, message: Message) -> Receipt:
        self.keys.append(str(gc.get_threshold()[0]))
        raise RuntimeError("channel bug")


def test_a_tick_collects_less_often_and_restores_the_collector(tmp_path: Path) -> None:
    root = build_tree(tmp_path / "p", {"journey.yaml": JOURNEY, "ping.yaml": PING})
    project = load_valid_project(root)
    db = tmp_path / "j.db"
    store = SqliteStore(db)
    import_contacts(store, [Contact("c1", "c1@example.com")], START)
    import_events(store, [Event("c1", "ping", START)], START, timedelta(days=1))
    before = gc.get_threshold()
    channel = Failing(db)
    with pytest.raises(RuntimeError, match="channel bug"):
        tick(make_engine(project), store, {"email": channel}, START + timedelta(minutes=1))
    assert channel.keys == [str(max(before[0], GC_THRESHOLD))]  # raised during the tick
    assert gc.get_threshold() == before  # and restored, even when the tick fails
    store.close()
    channel.conn.close()
