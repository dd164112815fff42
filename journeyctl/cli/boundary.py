"""The error boundary: JourneyctlError -> message on stderr + exit code (SPEC §4: 1, 2, 3)."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from journeyctl.errors import DataError, ExitCode, JourneyctlError, ProjectError

F = TypeVar("F", bound=Callable[..., Any])


def boundary(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except (ProjectError, DataError) as exc:
            from journeyctl.cli.output import Output
            from journeyctl.cli.render import render_diagnostics

            out = Output.from_environment()
            render_diagnostics(out, exc.diagnostics, "text")
            out.err.print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except JourneyctlError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise typer.Exit(130) from None
        except Exception as exc:
            if os.environ.get("JOURNEYCTL_DEBUG") == "1":
                raise
            print(
                f"internal error: {type(exc).__name__}: {exc} (rerun with JOURNEYCTL_DEBUG=1 for the trace)",
                file=sys.stderr,
            )
            raise typer.Exit(ExitCode.INTERNAL) from None

    return wrapper  # type: ignore[return-value]
