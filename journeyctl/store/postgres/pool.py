"""Pooled connections for a process that keeps asking (the listener's /metrics scrapes):
psycopg_pool's pool per URL, opened on first use, connections in autocommit mode."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from journeyctl.errors import StoreError
from journeyctl.store.postgres.connection import (
    CONNECT_TIMEOUT_S,
    SqlConnection,
    problem,
)
from journeyctl.store.postgres_url import redact_url

_POOLS: dict[str, ConnectionPool[Any]] = {}
_LOCK = threading.Lock()


class _Borrowed:
    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw


def _pool(url: str) -> ConnectionPool[Any]:
    with _LOCK:
        pool = _POOLS.get(url)
        if pool is None:
            pool = _POOLS[url] = ConnectionPool(
                url, min_size=0, max_size=2, open=True, timeout=CONNECT_TIMEOUT_S,
                kwargs={"autocommit": True, "application_name": "journeyctl"},
            )  # fmt: skip
        return pool


@contextlib.contextmanager
def reading(url: str) -> Iterator[SqlConnection]:
    """A pooled connection taking sqlite3's SQL (connection.SqlConnection)."""
    try:
        with _pool(url).connection() as raw:
            yield SqlConnection(_Borrowed(raw))  # type: ignore[arg-type]
    except psycopg.Error as exc:
        raise StoreError(problem(exc, url) or redact_url(url)) from None
    except TimeoutError as exc:  # psycopg_pool.PoolTimeout: no connection in time
        raise StoreError(f"{redact_url(url)}: no connection to the server ({exc})") from None


def close_all() -> None:
    with _LOCK:
        for pool in _POOLS.values():
            pool.close()
        _POOLS.clear()
