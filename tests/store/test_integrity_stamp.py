"""`run` checks the whole database file only when something else may have touched it since the
last run: the check reads every page (seconds at 10M history rows), and a cron minute must
stay flat in the history's size (bench_tick's flat-cost figure).

SQLite only: the stamp is of the database file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from journeyctl.store.sqlite import SqliteStore, connection


def test_the_check_is_skipped_only_while_the_file_is_as_the_last_run_left_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[Path] = []
    real = connection._check_integrity

    def counting(conn: object, path: Path) -> None:
        checks.append(path)
        real(conn, path)  # type: ignore[arg-type]

    monkeypatch.setattr(connection, "_check_integrity", counting)
    db = tmp_path / "j.db"
    SqliteStore(db, stamped=True).close()
    assert len(checks) == 1 and (tmp_path / "j.db.checked").exists()
    SqliteStore(db, stamped=True).close()
    assert len(checks) == 1  # untouched since: skipped
    SqliteStore(db).close()  # other commands always check
    assert len(checks) == 2
    st = os.stat(db)
    os.utime(db, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # something wrote it
    SqliteStore(db, stamped=True).close()
    assert len(checks) == 3
