"""What only PostgreSQL has to prove: migrating once when workers start together, claims that
two workers never share, a dead run's claims taken over at once (its session's advisory lock
gone) and a live one's never, connection errors as one line without the password, and the
`[postgres]` extra's message when psycopg is missing. Against the session's real server."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from journeyctl.errors import StoreError
from journeyctl.store.open import open_store
from journeyctl.store.postgres import PostgresStore
from tests.builders import contact
from tests.db import query
from tests.pg import Cluster
from tests.store.test_contract import BORN, T0, msg, save_messages

ROOT = Path(__file__).resolve().parents[2]


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEYCTL_")}
    out["PYTHONPATH"] = str(ROOT)
    out.update(extra)
    return out


@pytest.fixture
def pg(pg_url: str) -> Iterator[PostgresStore]:
    store = open_store(pg_url)
    assert isinstance(store, PostgresStore)
    store.upsert_contacts([contact(f"c{i}") for i in range(1, 7)], born=BORN)
    for i in range(1, 7):
        save_messages(store, f"c{i}", msg(f"k{i}", cid=f"c{i}"))
    yield store
    store.close()


# --- migrations --------------------------------------------------------------------------


def test_two_workers_starting_at_once_migrate_once(pg_url: str, tmp_path: Path) -> None:
    """The first process stops inside its migration (before COMMIT, holding the advisory
    lock) until the second has started and is waiting; both then open the store."""
    script = textwrap.dedent(
        """
        import sys, time
        from journeyctl.store.open import open_store
        open_store(sys.argv[1]).close()
        print("opened")
        """
    )
    gate = tmp_path / "gate"
    hold = textwrap.dedent(
        f"""
        import pathlib, sys, time
        import journeyctl.faults as faults
        def wait(name):
            if name == "migration":
                pathlib.Path({str(tmp_path / "inside")!r}).touch()
                while not pathlib.Path({str(gate)!r}).exists():
                    time.sleep(0.02)
        faults.point = wait
        """
    )
    first = subprocess.Popen(
        [sys.executable, "-c", hold + script, pg_url], env=env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    for _ in range(1500):
        if (tmp_path / "inside").exists():
            break
        assert first.poll() is None, first.communicate()
        time.sleep(0.02)
    second = subprocess.Popen(
        [sys.executable, "-c", script, pg_url], env=env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    waiting = query(
        pg_url,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
    )
    for _ in range(500):
        if waiting[0][0]:
            break
        time.sleep(0.02)
        waiting = query(
            pg_url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        )
    assert waiting[0][0] == 1  # the second waits for the first's migration
    gate.touch()
    out1, err1 = first.communicate(timeout=60)
    out2, err2 = second.communicate(timeout=60)
    assert (first.returncode, out1.strip()) == (0, "opened"), err1
    assert (second.returncode, out2.strip()) == (0, "opened"), err2
    assert query(pg_url, "SELECT version FROM schema_version") == [(3,)]
    assert query(pg_url, "SELECT count(*) FROM contacts") == [(0,)]


def test_a_newer_schema_is_refused_and_left_alone(pg_url: str) -> None:
    open_store(pg_url).close()
    from tests.db import execute

    execute(pg_url, "UPDATE schema_version SET version = 99")
    with pytest.raises(StoreError, match="schema version 99, written by a newer journeyctl"):
        open_store(pg_url)
    assert query(pg_url, "SELECT version FROM schema_version") == [(99,)]


# --- claims -------------------------------------------------------------------------------


def test_two_workers_never_claim_the_same_delivery(pg: PostgresStore, pg_url: str) -> None:
    other = open_store(pg_url)
    try:
        with pg.transaction():  # the first worker's claim is still open...
            first = pg.claim_deliveries(T0, limit=3)
            second = other.claim_deliveries(T0)  # ...the second skips its locked rows
        third = other.claim_deliveries(T0)
    finally:
        other.close()
    assert [m.key for m, _ in first] == ["k1", "k2", "k3"]
    assert [m.key for m, _ in second] == ["k4", "k5", "k6"]
    assert third == []


def test_due_contacts_are_leased_to_one_worker(pg_url: str) -> None:
    a, b = open_store(pg_url), open_store(pg_url)
    try:
        a.upsert_contacts([contact("c1"), contact("c2"), contact("c3")], born=BORN)
        assert a.due_contacts(T0, limit=2) == ["c1", "c2"]
        assert a.due_contacts(T0) == ["c1", "c2", "c3"]  # its own leases, and the rest
        assert b.due_contacts(T0) == []  # every due contact is leased to `a`
        with a.transaction():
            states = a.load_many(["c1"])
            a.save_many([(states[0], _nothing())])
        assert b.due_contacts(T0) == []  # c1 is not due any more; c2, c3 still leased
    finally:
        a.close()
    assert b.due_contacts(T0) == []  # a closed without a run: its leases run their course
    b.close()


def test_workers_ticking_together_share_the_due_contacts(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tick asks a leasing store for one batch at a time: a second worker starting while the
    first is busy takes the next batch, instead of finding every due contact leased."""
    from journeyctl.run import tick

    monkeypatch.setattr(tick, "ADVANCE_BATCH", 2)
    a, b = open_store(pg_url), open_store(pg_url)
    try:
        a.upsert_contacts([contact(f"c{i}") for i in range(1, 6)], born=BORN)
        rounds_a = tick._due_batches(a, T0, None)
        first_a = next(rounds_a)
        first_b = next(tick._due_batches(b, T0, None))
        assert first_a == ["c1", "c2"]
        assert first_b == ["c3", "c4"]
        with a.transaction():  # a decides its batch (nothing more is due for them)
            a.save_many([(state, _nothing()) for state in a.load_many(first_a)])
        assert next(rounds_a) == ["c5"]  # the rest; b's leases are b's
        with a.transaction():
            a.save_many([(state, _nothing()) for state in a.load_many(["c5"])])
        assert list(rounds_a) == []
        assert list(tick._due_batches(a, T0, 1)) == []  # a limit counts contacts, not rounds
    finally:
        a.close()
        b.close()


def _nothing() -> object:
    from journeyctl.engine.model import StepResult

    return StepResult(messages=[], next_due=None)


def test_a_dead_runs_claims_are_recovered_at_once_a_live_runs_never(
    pg: PostgresStore, pg_url: str
) -> None:
    live = open_store(pg_url)
    dying = open_store(pg_url)
    recoverer = open_store(pg_url)
    try:
        live.begin_run(T0, T0)
        assert [m.key for m, _ in live.claim_deliveries(T0, limit=2)] == ["k1", "k2"]
        dying.begin_run(T0, T0)
        assert [m.key for m, _ in dying.claim_deliveries(T0, limit=2)] == ["k3", "k4"]
        recoverer.begin_run(T0, T0)
        # Both runs alive: nothing is stale, however old the claims (no exclusive lock).
        assert recoverer.stale_attempts(T0 + timedelta(days=1)) == []
        dying.raw.close()  # its session ends (kill -9, a lost host): its lock goes with it
        for _ in range(200):  # the server ends the session as soon as it sees the close
            keys = [m.key for m in recoverer.stale_attempts(T0 + timedelta(days=1))]
            if keys:
                break
            time.sleep(0.05)
        assert keys == ["k3", "k4"]
    finally:
        live.close()
        recoverer.close()


# --- errors -------------------------------------------------------------------------------


def run_cli(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "journeyctl", *args], env=env(**extra), cwd=ROOT,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_wrong_password_is_one_line_without_the_password(
    pg_cluster: Cluster, pg_url: str
) -> None:
    bad = pg_url.replace(pg_cluster.password, "not-the-Secret-pw")
    proc = run_cli("status", "--db", bad)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "refused the login" in lines[0]
    assert f"@127.0.0.1:{pg_cluster.port}/{pg_url.rsplit('/', 1)[1]}" in lines[0]
    assert "not-the-Secret-pw" not in proc.stderr + proc.stdout
    assert pg_cluster.password not in proc.stderr


def test_a_server_that_is_down_is_one_line_naming_it(pg_cluster: Cluster, pg_url: str) -> None:
    pg_cluster.stop()
    try:
        proc = run_cli("messages", "--db", pg_url)
    finally:
        pg_cluster.start()
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "cannot reach the PostgreSQL server" in lines[0]
    assert f"127.0.0.1:{pg_cluster.port}" in lines[0]
    assert pg_cluster.password not in proc.stderr


def test_without_psycopg_a_url_says_what_to_install(tmp_path: Path) -> None:
    (tmp_path / "psycopg.py").write_text(
        "raise ImportError('No module named psycopg', name='psycopg')\n", encoding="utf-8"
    )
    proc = run_cli(
        "status", "--db", "postgresql://u:pw@127.0.0.1:1/x", PYTHONPATH=f"{tmp_path}:{ROOT}"
    )
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'journeyctl[postgres]'" in proc.stderr
    assert "pw@" not in proc.stderr


# --- the schema mirrors SQLite's -------------------------------------------------------------

PG_ONLY = {("contact_state", "claimed_by"), ("contact_state", "lease_until"),
           ("ledger", "lease_until")}  # fmt: skip


def test_every_sqlite_table_and_column_is_on_postgresql_by_the_same_name(
    pg_url: str, tmp_path: Path
) -> None:
    """A table-by-table copy (db migrate) relies on it; the lease columns are PostgreSQL's."""
    lite = tmp_path / "j.db"
    open_store(lite).close()
    open_store(pg_url).close()
    tables = [r[0] for r in query(lite, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    want = {(t, r[1]) for t in tables for r in query(lite, f"PRAGMA table_info({t})")}
    got = set(
        query(
            pg_url,
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name != 'schema_version'",
        )
    )
    assert got - want == PG_ONLY
    assert want - got == set()
