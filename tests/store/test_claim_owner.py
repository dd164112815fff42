"""Recovery re-sends what a dead run left `attempting`, never a live run's claims (SQLite).

A run records itself (`begin_run`) with the run lock it holds; its claims carry its id. Two
runs can hold different lock files on one database only when it is reached through two hard
links or from two hosts; these tests stand in for that with a second lock file.

SQLite only: the subject is the run lock file and its probe (PostgreSQL's runs are told
alive by their session's advisory lock: tests/store/test_postgres.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from journeyctl.engine.model import StepResult
from journeyctl.store.lock import LockHeld, lock_path, probe, run_lock
from journeyctl.store.sqlite import SqliteStore
from tests.builders import contact
from tests.store.test_contract import BORN, T0, msg, save_messages


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "journey.db"
    store = SqliteStore(path)
    store.upsert_contacts([contact("c1"), contact("c2")], born=BORN)
    save_messages(store, "c1", msg("k1"), msg("k2", step="two"))
    store.close()
    yield path


def keys(store: SqliteStore, claimed_before: object = None) -> list[str]:
    return [m.key for m in store.stale_attempts(claimed_before)]  # type: ignore[arg-type]


def column(db: Path, sql: str) -> list[object]:
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute(sql)]
    finally:
        conn.close()


def test_claims_carry_the_claiming_run(db: Path) -> None:
    store = SqliteStore(db)
    with run_lock(db) as held:
        run = store.begin_run(T0, T0, lock=held)
        store.claim_deliveries(T0, limit=1)
        with store.transaction():  # decided and claimed in one go (advance_due with deliver)
            state = store.load("c2")
            new = msg("k3", cid="c2")
            state.messages.append(new)
            store.save_many([(state, StepResult(messages=[new]))], claim=T0)
        store.finish_run(run, T0, {}, 0)
    store.claim_deliveries(T0)  # outside a recorded run
    store.close()
    assert column(db, "SELECT claimed_by FROM ledger ORDER BY key") == [run, None, run]
    assert column(db, f"SELECT lock_id IS NOT NULL AND pid > 0 FROM runs WHERE id = {run}") == [1]


def test_a_live_run_behind_another_lock_keeps_its_claims(tmp_path: Path, db: Path) -> None:
    """The duplicate of issue 13: a second run took "its" lock and re-sent the first's."""
    other = SqliteStore(db)
    mine = SqliteStore(db)
    elsewhere = tmp_path / "hardlink" / "journey.db"  # another name, another lock file
    elsewhere.parent.mkdir()
    with run_lock(elsewhere) as theirs:
        first = other.begin_run(T0, T0, lock=theirs)
        other.claim_deliveries(T0)  # k1, k2 attempting: being delivered by `first`
        with run_lock(db) as held:
            mine.begin_run(T0, T0, lock=held)
            assert keys(mine) == []  # exclusive: still not ours to re-send
            assert keys(mine, T0 + timedelta(days=1)) == []  # nor once a lease would expire
    # `first` died without finishing (its lock is free now): its claims are orphans at once.
    with run_lock(db) as held:
        mine.begin_run(T0, T0, lock=held)
        assert keys(mine) == ["k1", "k2"]
        assert keys(mine, T0 - timedelta(days=1)) == ["k1", "k2"]  # whatever the claim time
    other.finish_run(first, T0, {}, 3, "killed")
    assert keys(SqliteStore(db), T0 - timedelta(days=1)) == ["k1", "k2"]  # finished: dead


def test_a_run_that_held_our_lock_is_dead(db: Path) -> None:
    """kill -9: the next run holds the lock the dead one held, so recovery is immediate."""
    dying = SqliteStore(db)
    with run_lock(db) as held:
        dying.begin_run(T0, T0, lock=held)
        dying.claim_deliveries(T0)
    dying.close()  # never finished
    nxt = SqliteStore(db)
    with run_lock(db) as held:
        nxt.begin_run(T0, T0, lock=held)
        assert keys(nxt) == ["k1", "k2"]


def test_a_run_that_cannot_be_checked_falls_back_to_the_old_rules(db: Path) -> None:
    far = SqliteStore(db)
    with run_lock(db.with_name("other.db")) as theirs:
        run = far.begin_run(T0, T0, lock=theirs)
        far.claim_deliveries(T0)
        conn = sqlite3.connect(db)
        conn.execute("UPDATE runs SET host = 'another-host' WHERE id = ?", (run,))
        conn.commit()
        conn.close()
        store = SqliteStore(db)
        assert keys(store, T0 - timedelta(minutes=1)) == []  # lease not expired
        assert keys(store, T0) == ["k1", "k2"]  # claimed at or before the cutoff
        assert keys(store) == ["k1", "k2"]  # the lock holder takes them, as before


def test_the_lock_file_is_the_databases_whatever_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "data" / "j.db"
    real.parent.mkdir()
    real.touch()
    (tmp_path / "alias").mkdir()
    (tmp_path / "alias" / "j.db").symlink_to(real)
    (tmp_path / "linkdir").symlink_to(tmp_path / "data")
    monkeypatch.chdir(tmp_path / "alias")
    names = [real, tmp_path / "alias" / "j.db", tmp_path / "linkdir" / "j.db", Path("j.db")]
    names.append(Path("..") / "data" / ".." / "linkdir" / "j.db")
    assert {lock_path(n) for n in names} == {Path(str(real.resolve()) + ".lock")}
    with run_lock(names[0]) as held:
        assert probe(held.path, held.identity) is True
        for name in names[1:]:
            with pytest.raises(LockHeld), run_lock(name):
                pass
    assert probe(held.path, held.identity) is False
    assert probe(held.path, "0:0") is None  # another file now
    assert probe(str(tmp_path / "missing.lock"), held.identity) is None
