"""The error boundary: JourneyctlError -> message on stderr + exit code (SPEC §4: 1, 2, 3).

Errors of the machine (a damaged, read-only or locked database, a full disk, a permission
refused: store/environment.py; a PostgreSQL server down, a refused login:
store/postgres/connection.py) are exit 1 with one line naming the file or the server
(without its password); exit 3 is kept for what is left, the bugs.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from journeyctl.errors import DataError, ExitCode, JourneyctlError, ProjectError

F = TypeVar("F", bound=Callable[..., Any])


def environment_problem(exc: BaseException, db: Path | str | None = None) -> str | None:
    """The one line for an error of the environment (`db`: the command's --db), or None."""
    import sqlite3

    from journeyctl.store.environment import database_problem, os_problem

    if isinstance(exc, sqlite3.Error):
        return database_problem(db, exc)
    psycopg = sys.modules.get("psycopg")  # imported only if a PostgreSQL URL was opened
    if psycopg is not None and isinstance(exc, psycopg.Error):
        from journeyctl.store.postgres.connection import problem
        from journeyctl.store.postgres_url import is_postgres_url

        return problem(exc, str(db) if is_postgres_url(db) else None)
    if isinstance(exc, OSError):
        return os_problem(exc)
    return None


def internal_error_line(exc: BaseException) -> str:
    from journeyctl.redact import redact_text

    return (
        f"internal error: {type(exc).__name__}: {redact_text(str(exc))} "
        "(rerun with JOURNEYCTL_DEBUG=1 for the trace)"
    )


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
            from journeyctl.redact import redact_text

            print(f"error: {redact_text(str(exc))}", file=sys.stderr)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise typer.Exit(130) from None
        except Exception as exc:
            if os.environ.get("JOURNEYCTL_DEBUG") == "1":
                raise
            problem = environment_problem(exc, kwargs.get("db"))
            if problem is not None:
                print(f"error: {problem}", file=sys.stderr)
                raise typer.Exit(ExitCode.PROBLEMS) from None
            print(internal_error_line(exc), file=sys.stderr)
            raise typer.Exit(ExitCode.INTERNAL) from None

    return wrapper  # type: ignore[return-value]
