"""`journeyctl serve`: the same tick as `run`, on an in-process scheduler."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from journeyctl.cli import app
from journeyctl.cli.boundary import boundary, environment_problem, internal_error_line
from journeyctl.cli.options import DbOpt
from journeyctl.errors import UsageError


@app.command()
@boundary
def serve(
    project_dir: Annotated[Path, typer.Argument(help="Project directory.")] = Path("."),
    db: DbOpt = Path("journey.db"),
    every: Annotated[
        str, typer.Option(help="Tick interval, a duration: 10s, 1m, 5m, 1h ...")
    ] = "1m",
    limit: Annotated[int | None, typer.Option(min=1, help="Bound the work of one tick.")] = None,
) -> None:
    """Run the tick every --every until SIGTERM or SIGINT (the tick in flight finishes, then
    exit 0).

    A daemon's lines are its log: each tick's summary (the line `run` prints) and errors go to
    stderr, stdout stays empty."""
    import os

    from journeyctl.cli.loading import load_project_or_fail
    from journeyctl.cli.options import parse_interval
    from journeyctl.cli.output import Output
    from journeyctl.cli.run_render import run_line
    from journeyctl.clock import SystemClock
    from journeyctl.engine.make import make_engine
    from journeyctl.run.once import run_once
    from journeyctl.run.serve import serve_forever

    interval = parse_interval(every, "--every")
    if interval.total_seconds() < 1:
        raise UsageError("--every must be at least 1s")
    project = load_project_or_fail(project_dir)
    engine = make_engine(project, env=os.environ)  # signs unsubscribe tokens (see run)
    clock = SystemClock()
    output = Output.from_environment()

    ticks = 0

    def tick() -> None:
        nonlocal ticks
        ticks += 1
        try:
            result = run_once(
                project, db, now=clock.now(), clock=clock.now, limit=limit, engine=engine
            )
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

    output.err.print(f"serving {project_dir} every {every} on {db}; SIGTERM stops", markup=False)
    serve_forever(tick, interval)
    output.err.print("stopped", markup=False)
