"""CSV cells safe from formula injection when a marketer opens the export in Excel."""

from __future__ import annotations

from typing import Any

# OWASP "CSV Injection": a cell starting with one of these is a formula (or DDE) to a
# spreadsheet. Prefixed with ' it is text; journeyctl's CSV readers drop that ' again.
_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
TRIGGERS_SET = frozenset(_TRIGGERS)


def cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    if text.startswith(_TRIGGERS) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
