"""Located problems as plain data: the one shape every check, import and command reports in.

Rendering (text with caret, JSON, GitHub annotations) lives in `journeyctl.cli.render`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, order=True)
class Location:
    path: Path
    line: int  # 1-based
    col: int  # 1-based, in characters

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    location: Location
    severity: Severity
    code: str  # stable, kebab-case, documented in docs/diagnostics.md
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}[{self.code}]: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def error(loc: Location, code: str, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(loc, Severity.ERROR, code, message, hint)


def warning(loc: Location, code: str, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(loc, Severity.WARNING, code, message, hint)


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    return (str(d.location.path), d.location.line, d.location.col, d.code)
