"""Copying a whole state between stores (`journeyctl db migrate`): table by table in batches,
then counted and checksummed on both sides the same way.

Both stores keep the same tables and columns (instants as integer epoch microseconds), so the
copy moves values as they are. The checksum of a table does not depend on the order rows come
in (text keys sort differently under SQLite's and PostgreSQL's collations): each row is encoded
canonically (its columns by name, NULL, integers and text told apart, booleans as 0/1, JSON
columns with sorted keys), hashed with SHA-256, and the hashes are added modulo 2**256.

The caller holds one read snapshot on the source and one transaction on the target around
`copy_all`, and commits the target only when every table matched (verify inside it).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from journeyctl.errors import StoreError

# In dependency order: contacts before their state, events and enrollments.
TABLES = ("meta", "contacts", "contact_state", "enrollments", "events", "ledger", "runs")
# Tables whose integer `id` the store numbers itself: the target's counter moves past them.
NUMBERED = ("events", "ledger", "runs")
BATCH = 5_000
# Columns only the PostgreSQL store has (leases of contacts and deliveries taken by a worker):
# NULL in a copy from SQLite, left behind in a copy back (the workers are stopped).
POSTGRES_ONLY = {
    ("contact_state", "claimed_by"),
    ("contact_state", "lease_until"),
    ("ledger", "lease_until"),
}
_MOD = 1 << 256


@dataclass(frozen=True)
class TableCopy:
    table: str
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str

    @property
    def ok(self) -> bool:
        return (self.source_rows, self.source_checksum) == (self.target_rows, self.target_checksum)


def is_sqlite(conn: Any) -> bool:
    return isinstance(conn, sqlite3.Connection)


def columns(conn: Any, table: str) -> dict[str, str]:
    """The table's columns, name -> declared type in lower case, in table order."""
    if is_sqlite(conn):
        rows = conn.execute(f"PRAGMA table_info({table})").fetchall()
        return {str(r[1]): str(r[2]).lower() for r in rows}
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return {str(r[0]): str(r[1]).lower() for r in rows}


def row_count(conn: Any, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def nonempty(conn: Any) -> dict[str, int]:
    """The tables of the state that hold rows (meta aside: a store may write its own)."""
    counts = {t: row_count(conn, t) for t in TABLES if t != "meta"}
    return {t: n for t, n in counts.items() if n}


def _canonical(value: Any, as_json: bool) -> bytes:
    if value is None:
        return b"N"
    if as_json:
        parsed = json.loads(value) if isinstance(value, str | bytes) else value
        text = json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return b"j" + text.encode("utf-8", "surrogatepass")
    if isinstance(value, bool):
        return b"i%d" % int(value)
    if isinstance(value, int):
        return b"i%d" % value
    if isinstance(value, float):
        return b"f" + repr(value).encode("ascii")
    if isinstance(value, str):
        return b"s" + value.encode("utf-8", "surrogatepass")
    if isinstance(value, bytes | bytearray | memoryview):
        return b"b" + bytes(value)
    return b"s" + str(value).encode("utf-8", "surrogatepass")


def _row_hash(names: Sequence[str], row: Sequence[Any], json_cols: frozenset[str]) -> int:
    h = hashlib.sha256()
    for name, value in zip(names, row, strict=True):
        h.update(name.encode("ascii"))
        h.update(b"=")
        v = _canonical(value, name in json_cols)
        h.update(b"%d:" % len(v))
        h.update(v)
    return int.from_bytes(h.digest(), "big")


def _rows(conn: Any, table: str, names: Sequence[str], batch: int) -> Iterable[Sequence[Any]]:
    cur = conn.cursor()
    cur.execute(f"SELECT {', '.join(names)} FROM {table}")
    while True:
        chunk = cur.fetchmany(batch)
        if not chunk:
            break
        yield from chunk


def checksum(
    conn: Any, table: str, names: Sequence[str], json_cols: frozenset[str], batch: int = BATCH
) -> tuple[int, str]:
    """(rows, checksum) of `table` over `names`, independent of row order and of the store."""
    total, n = 0, 0
    for row in _rows(conn, table, names, batch):
        total = (total + _row_hash(names, row, json_cols)) % _MOD
        n += 1
    return n, f"{total:064x}"


def _write(dst: Any, table: str, names: Sequence[str], rows: list[Sequence[Any]]) -> None:
    if is_sqlite(dst):
        marks = ", ".join("?" * len(names))
        dst.executemany(f"INSERT INTO {table}({', '.join(names)}) VALUES ({marks})", rows)
        return
    with dst.cursor().copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _json_columns(*kinds: dict[str, str]) -> frozenset[str]:
    return frozenset(n for k in kinds for n, t in k.items() if t in ("json", "jsonb"))


def _move_counter(dst: Any, table: str) -> None:
    """The target numbers its next row after the copied ones (PostgreSQL sequences; SQLite
    takes max(rowid) + 1 by itself)."""
    if is_sqlite(dst):
        return
    seq = dst.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,)).fetchone()[0]
    if seq is not None:
        dst.execute(
            f"SELECT setval(%s, coalesce((SELECT max(id) FROM {table}), 0) + 1, false)", (seq,)
        )


def copy_all(
    src: Any,
    dst: Any,
    *,
    batch: int = BATCH,
    progress: Callable[[str, int], None] | None = None,
) -> list[TableCopy]:
    """Copy every table of the state from `src` into the empty tables of `dst`, then count and
    checksum both sides. `progress(table, rows so far)` after each batch."""
    out = []
    for table in TABLES:
        have, want = columns(src, table), columns(dst, table)
        if not have:
            raise StoreError(f"the source has no table {table}: is it a journeyctl database?")
        missing = [c for c in have if c not in want and (table, c) not in POSTGRES_ONLY]
        if missing:
            raise StoreError(
                f"the target's table {table} has no column {', '.join(missing)}: it was made "
                "by another version of journeyctl; migrate with the same version on both sides"
            )
        names = [c for c in have if c in want]
        pending: list[Sequence[Any]] = []
        n = 0
        for row in _rows(src, table, names, batch):
            pending.append(row)
            if len(pending) >= batch:
                _write(dst, table, names, pending)
                n += len(pending)
                pending = []
                if progress is not None:
                    progress(table, n)
        if pending:
            _write(dst, table, names, pending)
            n += len(pending)
            if progress is not None:
                progress(table, n)
        if table in NUMBERED:
            _move_counter(dst, table)
        json_cols = _json_columns(have, want)
        src_n, src_sum = checksum(src, table, names, json_cols, batch)
        dst_n, dst_sum = checksum(dst, table, names, json_cols, batch)
        out.append(TableCopy(table, src_n, dst_n, src_sum, dst_sum))
    return out
