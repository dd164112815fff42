"""Reading a store's tables in tests, whichever store `--db` names (tests/conftest.py's
`db_url`): sqlite3's SQL and parameters on both (the PostgreSQL store's translation)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from journeyctl.store.postgres_url import is_postgres_url


def query(db: str | Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every row `sql` returns from the database at `db` (a file or a PostgreSQL URL)."""
    if is_postgres_url(db):
        import psycopg

        from journeyctl.store.postgres.connection import translate

        text, order = translate(sql)
        args = params if order is None else tuple(params[i] for i in order)
        with psycopg.connect(str(db), autocommit=True) as conn:
            return [tuple(r) for r in conn.execute(text, args).fetchall()]
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def execute(db: str | Path, sql: str, params: tuple[Any, ...] = ()) -> None:
    """Run one writing statement (a test's tampering) and commit it."""
    if is_postgres_url(db):
        import psycopg

        from journeyctl.store.postgres.connection import translate

        text, order = translate(sql)
        args = params if order is None else tuple(params[i] for i in order)
        with psycopg.connect(str(db), autocommit=True) as conn:
            conn.execute(text, args)
        return
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute(sql, params)
    finally:
        conn.close()
