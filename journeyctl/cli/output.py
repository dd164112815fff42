"""Where output goes: data to stdout, diagnostics and progress to stderr; NO_COLOR respected."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from rich.console import Console


@dataclass
class Output:
    out: Console
    err: Console

    @classmethod
    def from_environment(cls) -> Output:
        no_color = bool(os.environ.get("NO_COLOR"))
        width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else None
        return cls(
            out=Console(
                file=sys.stdout, no_color=no_color, highlight=False, width=width, soft_wrap=True
            ),
            err=Console(
                file=sys.stderr,
                no_color=no_color,
                highlight=False,
                width=width,
                soft_wrap=True,
                stderr=True,
            ),
        )

    @property
    def progress_enabled(self) -> bool:
        return self.err.is_terminal

    def data(self, text: str) -> None:
        """Machine-readable output: exactly `text`, no wrapping or markup."""
        sys.stdout.write(text)
        if not text.endswith("\n"):
            sys.stdout.write("\n")
        sys.stdout.flush()
