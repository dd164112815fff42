"""The command line: parse, load, call the core, render, exit. Nothing else lives here.

Each command is a module that registers itself on `app`; heavy imports stay inside the
command bodies so `journeyctl --help` and idle cron ticks stay fast.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import typer

app = typer.Typer(
    name="journeyctl",
    help="Lifecycle messaging as code: validate, simulate and run message sequences kept in git.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from journeyctl import __version__
        from journeyctl.engine import NATIVE

        engine = "compiled by mypyc" if NATIVE else "pure Python (a wheel build compiles it)"
        typer.echo(f"journeyctl {__version__} (engine: {engine})")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Lifecycle messaging as code: validate, simulate and run message sequences kept in git."""


# One module per command; each does `@app.command()` at import.
COMMAND_MODULES = (
    "validate",
    "schema",
    "graph",
    "preview",
    "send_test",
    "init",
    "simulate",
    "explain",
    "run",
    "serve",
    "imports",
    "status",
    "messages",
    "diff",
    "plan",
    "test",
    "report",
    "db",
)


def _register() -> None:
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(f"journeyctl.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"journeyctl.cli.{name}":
                raise
    from journeyctl.cli.options import single_value_options

    single_value_options(app)  # `--contacts a --contacts b` is a usage error, not `b`


def main(*, fingerprint: str | None = None) -> None:
    """`fingerprint`: the project's files as the idle attempt hashed them before this process
    loaded anything (run.idle); `run` hands it to run.once to record."""
    _register()
    app(obj=Invocation(fingerprint=fingerprint))


@dataclass(frozen=True)
class Invocation:
    """What the entry point learnt before the CLI parsed argv (click's context `obj`)."""

    fingerprint: str | None = None


def invocation(ctx: typer.Context) -> Invocation:
    """The entry point's Invocation inside a command (empty when called otherwise: tests)."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Invocation) else Invocation()
