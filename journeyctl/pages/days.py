"""Local calendar days of instants, for the pages' messages-per-day charts."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


class LocalDays:
    """`days(at)` -> the ISO date of `at` in `tz`. Every zone's offset, and every change of it,
    falls on a quarter hour (Asia/Kathmandu is +05:45), so the date is worked out once per
    quarter hour of timestamps, not once per message."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._quarters: dict[int, str] = {}

    def __call__(self, at: datetime) -> str:
        quarter = int(at.timestamp() // 900)
        day = self._quarters.get(quarter)
        if day is None:
            day = self._quarters[quarter] = at.astimezone(self.tz).date().isoformat()
        return day
