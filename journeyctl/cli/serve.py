"""`journeyctl serve`: the same tick as `run`, on an in-process scheduler."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary, environment_problem, internal_error_line
from journeyctl.cli.options import DbOpt
from journeyctl.cli.output import Output
from journeyctl.clock import SystemClock
from journeyctl.errors import UsageError
from journeyctl.spec.project import Project


@app.command()
@boundary
def serve(
    project_dir: Annotated[Path, typer.Argument(help="Project directory.")] = Path("."),
    db: DbOpt = "journey.db",
    every: Annotated[
        str, typer.Option(help="Tick interval, a duration: 10s, 1m, 5m, 1h ...")
    ] = "1m",
    limit: Annotated[int | None, typer.Option(min=1, help="Bound the work of one tick.")] = None,
    http: Annotated[
        str | None,
        typer.Option(
            "--http", metavar="HOST:PORT", help="Also serve the HTTP listener (docs/run.md)."
        ),
    ] = None,
    no_tick: Annotated[
        bool, typer.Option("--no-tick", help="The listener alone (ticks come from cron).")
    ] = False,
) -> None:
    """Run the tick every --every until SIGTERM or SIGINT (the tick in flight finishes, then
    exit 0); with --http also the listener (in-flight requests finish too).

    A daemon's lines are its log: each tick's summary (the line `run` prints) and errors go to
    stderr, stdout stays empty."""
    import os

    from journeyctl.cli.loading import load_project_or_fail
    from journeyctl.cli.options import parse_interval
    from journeyctl.run.serve import stopping_on_signals

    interval = parse_interval(every, "--every")
    if interval.total_seconds() < 1:
        raise UsageError("--every must be at least 1s")
    if no_tick and http is None:
        raise UsageError("--no-tick serves the listener alone: give --http HOST:PORT too")
    project = load_project_or_fail(project_dir)
    clock = SystemClock()
    output = Output.from_environment()
    with stopping_on_signals(threading.Event()) as stop:
        listener = None
        if http is not None:
            from journeyctl.listener.server import start_listener

            listener = start_listener(project, db, http, clock.now, os.environ)
            output.err.print(f"listening on {listener.address}", markup=False)
        try:
            _serve(project, db, every, interval, limit, None if no_tick else clock, output, stop)
        finally:
            if listener is not None:
                listener.stop()
    output.err.print("stopped", markup=False)


def _serve(
    project: Project,
    db: str,
    every: str,
    interval: timedelta,
    limit: int | None,
    clock: SystemClock | None,
    output: Output,
    stop: threading.Event,
) -> None:
    """The scheduler until a signal (`clock` None: no ticks, the signal alone)."""
    import os

    from journeyctl.cli.run_render import run_line
    from journeyctl.engine.make import make_engine
    from journeyctl.run.once import run_once
    from journeyctl.run.serve import serve_forever
    from journeyctl.store.postgres_url import display_name

    if clock is None:
        output.err.print(f"listener only on {display_name(db)}; SIGTERM stops", markup=False)
        serve_forever(None, interval, stop=stop)
        return
    engine = make_engine(project, env=os.environ)  # signs unsubscribe tokens (see run)
    now = clock.now
    ticks = 0

    def tick() -> None:
        nonlocal ticks
        ticks += 1
        try:
            result = run_once(project, db, now=now(), clock=now, limit=limit, engine=engine)
        except Exception as exc:
            if ticks == 1:
                raise  # the boundary says why, with the exit code (a wrong --db stops here)
            # A later tick: one line, and the next tick tries again (a full disk may be freed
            # meanwhile); never the scheduler's logged traceback.
            if os.environ.get("JOURNEYCTL_DEBUG") == "1":
                import traceback

                traceback.print_exc()
            from journeyctl.errors import JourneyctlError
            from journeyctl.redact import redact_text

            problem = (
                redact_text(str(exc))  # a StoreError (a damaged file) says it all already
                if isinstance(exc, JourneyctlError)
                else environment_problem(exc, db)
            )
            line = f"error: {problem}" if problem else internal_error_line(exc)
            output.err.print(line, markup=False, highlight=False)
            return
        if not result.locked:
            output.err.print(
                run_line(result, project.settings.timezone), markup=False, highlight=False
            )

    output.err.print(
        f"serving {project.root} every {every} on {display_name(db)}; SIGTERM stops",
        markup=False,
    )
    serve_forever(tick, interval, stop=stop)
