"""Exceptions that carry data (never print) and the exit codes of SPEC §4."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

from journeyctl.diagnostics import Diagnostic


class ExitCode(IntEnum):
    OK = 0
    PROBLEMS = 1
    USAGE = 2
    INTERNAL = 3


class JourneyctlError(Exception):
    exit_code = ExitCode.PROBLEMS


class UsageError(JourneyctlError):
    exit_code = ExitCode.USAGE


class ProjectError(JourneyctlError):
    """The project failed to load or validate; `diagnostics` says where and why."""

    def __init__(self, diagnostics: Sequence[Diagnostic], message: str = "invalid project"):
        super().__init__(message)
        self.diagnostics = list(diagnostics)


class DataError(JourneyctlError):
    """An import had bad rows (all-or-nothing by default)."""

    def __init__(self, diagnostics: Sequence[Diagnostic], message: str = "invalid data"):
        super().__init__(message)
        self.diagnostics = list(diagnostics)


class StoreError(JourneyctlError):
    """Cannot open, migrate or lock the database."""


class ChannelError(JourneyctlError):
    pass


class TransientChannelError(ChannelError):
    """Retry later with backoff (SMTP 4xx, HTTP 429/5xx, timeouts, refused)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentChannelError(ChannelError):
    """Record, show in `status`, move on. `bounce` marks failures that suppress the contact."""

    def __init__(self, message: str, bounce: bool = False):
        super().__init__(message)
        self.bounce = bounce
