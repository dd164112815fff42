"""Checks and diagnostics for contact columns, shared by the CSV and JSONL contact readers."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from journeyctl.data.convert import (
    FIRST_YEAR,
    LAST_YEAR,
    TYPES,
    NotAscii,
    OutOfCalendar,
)
from journeyctl.data.source import shown
from journeyctl.diagnostics import Diagnostic, Location, error, warning
from journeyctl.spec.models import ProjectSettings

KNOWN = ("id", "email", "phone", "name", "timezone")
_NOT_DIGIT = re.compile(r"[^0-9]")


def is_email(text: str) -> bool:
    """Sanity, not RFC 5322: exactly one @ with text on both sides, no whitespace/controls.

    A CR/LF in an address is a header-injection attempt (SPEC §5): refused at the door.
    """
    at = text.find("@")
    # isprintable() is False for controls, CR/LF, tabs and Unicode separators; ' ' is left
    return (
        0 < at < len(text) - 1
        and text.find("@", at + 1) < 0
        and " " not in text
        and text.isprintable()
        and (text.isascii() or _idn_domain(text[at + 1 :]))
    )


def _idn_domain(domain: str) -> bool:
    """An internationalised domain (예시.한국) is kept as written and sent as punycode
    (channels/mime.py); one that has no punycode form cannot be sent, so it is refused here."""
    if domain.isascii():
        return True
    try:
        domain.encode("idna")
    except UnicodeError:
        return False
    return True


class Zones:
    """Timezone names checked once each: a million rows share a handful of zones."""

    def __init__(self) -> None:
        self.valid: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        ok = self.valid.get(name)
        if ok is None:
            try:
                ZoneInfo(name)
                ok = True
            except (ZoneInfoNotFoundError, ValueError):
                ok = False
            self.valid[name] = ok
        return ok


def bad_cell(
    path: Path, line: int, col: int, name: str, kind: str, text: str, exc: Exception | None = None
) -> Diagnostic:
    t = TYPES[kind]
    name = shown(name)  # a header cell: data, never a terminal control
    if isinstance(exc, OutOfCalendar):
        return error(
            Location(path, line, col),
            t.code,
            f"column {name}: {text!r} is outside the calendar journeyctl schedules in "
            f"(years {FIRST_YEAR}-{LAST_YEAR})",
            "a placeholder for an unknown date? leave the cell empty",
        )
    if isinstance(exc, NotAscii):
        return error(
            Location(path, line, col),
            t.code,
            f"column {name}: {text!r} is not {t.noun}: its digits are not 0-9 (full-width digits?)",
            "retype it with the digits 0-9; in Excel, =ASC(cell) turns full-width digits into"
            " plain ones",
        )
    return error(
        Location(path, line, col), t.code, f"column {name}: {text!r} is not {t.noun}", t.hint
    )


def bad_email(path: Path, line: int, col: int, text: str) -> Diagnostic:
    return error(
        Location(path, line, col),
        "bad-email",
        f"column email: {text!r} is not an email address",
        "write one address like name@example.com, without spaces",
    )


def bad_phone(path: Path, line: int, col: int, text: str) -> Diagnostic:
    return error(
        Location(path, line, col),
        "bad-phone",
        f"column phone: {text!r} has no digits",
        "write a number like 010-1234-5678 or +82 10 1234 5678, or leave the cell empty",
    )


def bad_timezone(path: Path, line: int, col: int, text: str, project_zone: str) -> Diagnostic:
    # SPEC §2: an invalid zone falls back to the project's; quiet hours never fail open.
    return warning(
        Location(path, line, col),
        "bad-timezone",
        f"column timezone: {text!r} is not an IANA timezone; using the project timezone"
        f" {project_zone}",
        "use a name like Asia/Seoul or America/New_York",
    )


def normal_phone(text: str) -> str | None:
    """Digits only, keeping a leading + (E.164 style): '010-1234-5678' -> '01012345678'."""
    digits = text.replace("-", "")
    if not (digits.isascii() and digits.isdigit()):  # the common 010-1234-5678 skips the regex
        digits = _NOT_DIGIT.sub("", text)
    if not digits:
        return None
    return "+" + digits if text.startswith("+") else digits


def field_types(settings: ProjectSettings) -> dict[str, str]:
    types: dict[str, str] = dict(settings.contacts.fields)
    # The night-consent column means a yes/no; type it even when journey.yaml does not.
    types.setdefault(settings.contacts.night_consent, "bool")
    return types
