"""Enrollment ids end in the entry's whole seconds since the epoch, as `int(t.timestamp())`
gave them (ids are stored: a run after an upgrade must make the same ones)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from journeyctl.engine.instant import _whole_seconds

instants = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1))


@given(instants)
def test_whole_seconds_are_the_truncated_timestamp(naive: datetime) -> None:
    t = naive.replace(tzinfo=UTC)
    assert _whole_seconds(t) == int(t.timestamp())


def test_whole_seconds_truncate_toward_zero_before_the_epoch() -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert _whole_seconds(epoch - timedelta(microseconds=500_000)) == 0
    assert _whole_seconds(epoch - timedelta(seconds=1, microseconds=1)) == -1
    assert _whole_seconds(epoch + timedelta(seconds=1, microseconds=999_999)) == 1


@given(instants, st.integers(-14 * 60, 14 * 60))
def test_other_zones_give_the_same_instant_seconds(naive: datetime, minutes: int) -> None:
    t = naive.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    assert _whole_seconds(t) == int(t.timestamp()) == _whole_seconds(t.astimezone(UTC))
