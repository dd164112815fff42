"""Properties: what we write in a CSV cell reads back as the same value."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from journeyctl.data.contacts import read_contacts
from journeyctl.data.convert import parse_float, parse_int
from journeyctl.spec.models import ProjectSettings

PROJECT = ProjectSettings(
    timezone="Asia/Seoul",
    contacts={"fields": {"at": "datetime", "n": "int"}},  # type: ignore[arg-type]
)
instants = st.datetimes(
    # hypothesis takes naive bounds and attaches `timezones`
    min_value=datetime(1900, 1, 2),
    max_value=datetime(2100, 1, 1),
    timezones=st.just(UTC),
)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)


@settings(max_examples=50, deadline=None)
@given(rows=st.lists(st.tuples(instants, offsets, st.integers(), st.booleans()), max_size=20))
def test_datetime_and_int_columns_round_trip(tmp_path_factory, rows) -> None:  # type: ignore[no-untyped-def]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "at", "n"])
    for i, (at, offset, n, naive) in enumerate(rows):
        # naive cells are wall-clock time in the project timezone
        cell = (
            at.astimezone(ZoneInfo("Asia/Seoul")).replace(tzinfo=None)
            if naive
            else at.astimezone(offset)
        )
        w.writerow([f"c{i}", cell.isoformat(), f"{n:,}" if i % 2 else str(n)])
    p = Path(tmp_path_factory.mktemp("rt")) / "c.csv"
    p.write_text(buf.getvalue(), encoding="utf-8")
    got = read_contacts(p, PROJECT).items
    assert [(c.attrs["at"], c.attrs["n"]) for c in got] == [(at, n) for at, _, n, _ in rows]
    assert all(c.attrs["at"].tzinfo is UTC for c in got)


@given(st.integers())
def test_int_with_thousands_separators(n: int) -> None:
    assert parse_int(f"{n:,}") == n


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15))
def test_float_round_trip(x: float) -> None:
    assert parse_float(repr(x)) == x
