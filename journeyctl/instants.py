"""Parse the instants users type on the command line (`--start`, `--now`, `--since`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from journeyctl.errors import UsageError


def parse_instant(text: str, project_tz: str, *, option: str = "--start") -> datetime:
    """ISO 8601 with offset, a naive datetime (project timezone), or a date (its midnight).

    >>> parse_instant("2026-11-01", "Asia/Seoul").isoformat()
    '2026-10-31T15:00:00+00:00'
    """
    tz = ZoneInfo(project_tz)
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=tz).astimezone(UTC)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option}: {text!r} is not an ISO 8601 date or datetime (e.g. 2026-11-01 or "
            "2026-11-01T09:00:00+09:00)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)
