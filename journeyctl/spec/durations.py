"""Durations as users write them: `30m`, `4h`, `2d`, `1w`, `1d12h`, and signed `-7d` offsets.

`d` and `w` are calendar days on the contact's wall clock (DST-correct, see engine.timing);
`h` and `m` are absolute. So a Duration keeps the two parts apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

_PART = re.compile(r"(\d+)([wdhm])")
DURATION_PATTERN = r"^-?(\d+[wdhm])+$"
_WHOLE = re.compile(DURATION_PATTERN)
_UNIT_ORDER = "wdhm"


@dataclass(frozen=True, slots=True)
class Duration:
    """Calendar days plus absolute seconds; both carry the sign."""

    days: int = 0
    seconds: int = 0

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Parse a duration.

        >>> Duration.parse("1d12h")
        Duration(days=1, seconds=43200)
        >>> Duration.parse("-7d")
        Duration(days=-7, seconds=0)
        """
        s = text.strip()
        if not _WHOLE.match(s):
            raise ValueError(f"{text!r} is not a duration")
        sign = -1 if s.startswith("-") else 1
        days = seconds = 0
        last = -1
        for num, unit in _PART.findall(s):
            order = _UNIT_ORDER.index(unit)
            if order <= last:
                raise ValueError(
                    f"{text!r} is not a duration (units must go w, d, h, m, once each)"
                )
            last = order
            n = int(num)
            if unit == "w":
                days += 7 * n
            elif unit == "d":
                days += n
            elif unit == "h":
                seconds += 3600 * n
            else:
                seconds += 60 * n
        return cls(sign * days, sign * seconds)

    @property
    def is_zero(self) -> bool:
        return self.days == 0 and self.seconds == 0

    @property
    def is_negative(self) -> bool:
        return self.days < 0 or self.seconds < 0

    def approx(self) -> timedelta:
        """Nominal length (a calendar day taken as 24h): for comparisons, never for scheduling."""
        return _nominal(self.days, self.seconds)

    def __str__(self) -> str:
        if self.is_zero:
            return "0m"
        sign = "-" if self.is_negative else ""
        days, secs = abs(self.days), abs(self.seconds)
        out = []
        if days and days % 7 == 0 and not secs:
            out.append(f"{days // 7}w")
        elif days:
            out.append(f"{days}d")
        h, rem = divmod(secs, 3600)
        m = rem // 60
        if h:
            out.append(f"{h}h")
        if m:
            out.append(f"{m}m")
        return sign + "".join(out)

    # pydantic integration: validated from a string, serialised back to the same form.
    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: Any) -> Duration:
            if isinstance(value, Duration):
                return value
            if not isinstance(value, str):
                raise PydanticCustomError("bad-duration", f"{value!r} is not a duration")
            try:
                return cls.parse(value)
            except ValueError as exc:
                raise PydanticCustomError("bad-duration", str(exc)) from None

        return core_schema.no_info_plain_validator_function(
            validate, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": DURATION_PATTERN,
            "examples": ["30m", "4h", "2d", "1w", "1d12h"],
        }


DURATION_HINT = "use 30m, 4h, 2d, 1w or 1d12h"


@lru_cache(maxsize=1024)
def _nominal(days: int, seconds: int) -> timedelta:
    return timedelta(days=days, seconds=seconds)  # asked for at every send (late policy, cap)
