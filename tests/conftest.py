"""Fixtures every test directory may use: the session's PostgreSQL (tests/pg.py) and the
store parametrization.

A test that takes `db_url` runs twice, on SQLite (a file in its tmp_path) and on PostgreSQL
(a fresh database): `--db` takes either. `store_kind` says which ("sqlite" or "postgres").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.pg import EXPECT_ENV, Cluster, find_bindir

STORE_KINDS = ("sqlite", "postgres")


def _no_postgres(reason: str) -> None:
    if os.environ.get(EXPECT_ENV) == "1":
        pytest.fail(f"{reason} ({EXPECT_ENV}=1: PostgreSQL is expected here)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """The session's PostgreSQL server, started on first use and stopped at the end."""
    bindir = find_bindir()
    if bindir is None:
        _no_postgres("PostgreSQL is not installed (no initdb in PATH or /usr/lib/postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _no_postgres("psycopg is not installed (pip install -e '.[dev]')")
    assert bindir is not None
    cluster = Cluster(bindir)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> Iterator[str]:
    """A fresh, empty database on the session's server; dropped after the test."""
    if not pg_cluster.running:
        pg_cluster.start()
    url = pg_cluster.new_database()
    yield url
    if not pg_cluster.running:  # a test that stopped the server
        pg_cluster.start()
    pg_cluster.drop_database(url)


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """What `--db` takes for this test's store: a SQLite file or a PostgreSQL database URL."""
    if store_kind == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "journey.db")


@pytest.fixture
def new_db(store_kind: str, request: pytest.FixtureRequest) -> Callable[[Path], str]:
    """Makes more fresh databases of this test's store: `new_db(directory)` (the directory
    holds a SQLite file; a PostgreSQL database is created on the session's server)."""

    def make(where: Path) -> str:
        if store_kind == "postgres":
            cluster: Cluster = request.getfixturevalue("pg_cluster")
            return cluster.new_database()
        where.mkdir(parents=True, exist_ok=True)
        return str(where / "journey.db")

    return make
