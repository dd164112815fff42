"""The order of writes in one tick, seen from a second connection (what survives a crash):
a message is `attempting` in the committed ledger before its channel sees it, and a
reconcilable channel has synced it before the ledger says `sent`.

SQLite only: the second connection reads the file between the tick's commits.
"""

from __future__ import annotations

import gc
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from journeyctl.channels.base import Receipt
from journeyctl.engine.make import make_engine
from journeyctl.engine.model import Contact, Event, Message
from journeyctl.run.imports import import_contacts, import_events
from journeyctl.run.tick import ADVANCE_BATCH, tick
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
    """Records whether the collector runs automatically while delivering, then fails."""

    def deliver(self, message: Message) -> Receipt:
        self.keys.append(f"gc enabled: {gc.isenabled()}")
        raise RuntimeError("channel bug")


class Cycle:
    def __init__(self) -> None:
        self.me = self


class CycleMaker(Watcher):
    """Leaves one unreachable reference cycle behind per message it delivers."""

    def deliver(self, message: Message) -> Receipt:
        Cycle()
        return super().deliver(message)


def _one_send_db(tmp_path: Path, contacts: int) -> tuple[SqliteStore, Path]:
    db = tmp_path / "j.db"
    store = SqliteStore(db)
    people = [Contact(f"c{i:04d}", f"c{i}@example.com") for i in range(contacts)]
    import_contacts(store, people, START)
    import_events(store, [Event(c.id, "ping", START) for c in people], START, timedelta(days=1))
    return store, db


def test_the_collector_is_off_during_a_tick_and_back_on_after(tmp_path: Path) -> None:
    project = load_valid_project(
        build_tree(tmp_path / "p", {"journey.yaml": JOURNEY, "ping.yaml": PING})
    )
    store, db = _one_send_db(tmp_path, 1)
    channel = Failing(db)
    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="channel bug"):
        tick(make_engine(project), store, {"email": channel}, START + timedelta(minutes=1))
    assert channel.keys == ["gc enabled: False"]
    assert gc.isenabled()  # back on, even though the tick failed
    store.close()
    channel.conn.close()


def test_cyclic_garbage_does_not_outlive_an_advance_batch(tmp_path: Path) -> None:
    project = load_valid_project(
        build_tree(tmp_path / "p", {"journey.yaml": JOURNEY, "ping.yaml": PING})
    )
    store, db = _one_send_db(tmp_path, ADVANCE_BATCH * 3)
    channel = CycleMaker(db)
    alive: list[int] = []  # Cycle objects alive when each advance batch saves
    save_many = store.save_many

    def spy(*args: object) -> list[tuple[Message, int]]:
        alive.append(sum(isinstance(o, Cycle) for o in gc.get_objects()))
        return save_many(*args)  # type: ignore[arg-type]

    store.save_many = spy  # type: ignore[method-assign]
    report = tick(make_engine(project), store, {"email": channel}, START + timedelta(minutes=1))
    assert report.delivered == ADVANCE_BATCH * 3
    # Each batch's cycles (one per message delivered) are gone before the next batch saves.
    assert alive == [0, 0, 0]
    store.close()
    channel.conn.close()
