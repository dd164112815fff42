"""Parse the instants users type on the command line (`--start`, `--now`, `--since`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from journeyctl.errors import UsageError

# The instants journeyctl works with. Times are stored as UTC epoch microseconds and the engine
# adds waits, retries and cron periods to them: an instant near year 1 or 9999 overflows
# Python's datetime on the first addition (`--now 9999-12-31` was an internal error, and
# `--now 0001-01-01` one before the database was even opened). Centuries of room either way.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def parse_instant(text: str, project_tz: str, *, option: str = "--start") -> datetime:
    """ISO 8601 with offset, a naive datetime (project timezone), or a date (its midnight);
    between EARLIEST and LATEST, else a UsageError (exit 2).

    >>> parse_instant("2026-11-01", "Asia/Seoul").isoformat()
    '2026-10-31T15:00:00+00:00'
    """
    tz = ZoneInfo(project_tz)
    try:
        if len(text) == 10:
            value = datetime.combine(date.fromisoformat(text), time(), tzinfo=tz)
        else:
            value = datetime.fromisoformat(text)
        if value.tzinfo is None:
            value = value.replace(tzinfo=tz)
        if not (EARLIEST.date() <= value.date() < LATEST.date()):
            raise OverflowError
        value = value.astimezone(UTC)
    except ValueError:
        raise UsageError(
            f"{option}: {text!r} is not an ISO 8601 date or datetime (e.g. 2026-11-01 or "
            "2026-11-01T09:00:00+09:00)"
        ) from None
    except OverflowError:
        raise UsageError(out_of_range(option, text)) from None
    if not EARLIEST <= value < LATEST:
        raise UsageError(out_of_range(option, text))
    return value


def out_of_range(option: str, text: str) -> str:
    return (
        f"{option}: {text!r} is out of range: journeyctl works with instants from "
        f"{EARLIEST.date()} to {LATEST.year - 1}-12-31 (UTC)"
    )
