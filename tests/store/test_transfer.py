"""store.transfer's checksum: the same for the same rows in any order, different for any
changed value, NULL or type (what `db migrate` verifies a copy with)."""

from __future__ import annotations

import sqlite3

from journeyctl.store.transfer import checksum


def _table(rows: list[tuple[object, ...]]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER, name TEXT, at INTEGER)")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    return conn


ROWS = [(1, "가", 10), (2, None, 20), (3, "c", None)]


def test_the_checksum_does_not_depend_on_row_order() -> None:
    names = ["id", "name", "at"]
    a = checksum(_table(ROWS), "t", names, frozenset())
    b = checksum(_table(list(reversed(ROWS))), "t", names, frozenset())
    assert a == b and a[0] == 3


def test_any_changed_value_changes_it() -> None:
    names = ["id", "name", "at"]
    base = checksum(_table(ROWS), "t", names, frozenset())
    for changed in (
        [(1, "가", 11), *ROWS[1:]],  # a value
        [(1, "가", 10), (2, "", 20), ROWS[2]],  # NULL -> empty text
        [(1, "가", 10), (2, None, 20), (3, "c", "None")],  # NULL -> the text 'None'
        [(1, "10", 10), *ROWS[1:]],  # text vs integer
        ROWS[:2],  # a row lost
        [*ROWS, ROWS[0]],  # a row twice
    ):
        assert checksum(_table(changed), "t", names, frozenset()) != base, changed
