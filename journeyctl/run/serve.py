"""`serve`: APScheduler 3.x decides *when* to call the tick; the engine decides what is due.

No journey state lives in APScheduler (no job store): segment and date checks run on their
cron schedules inside the engine, so `serve`, `run` and `simulate` share cron semantics.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger


def serve_forever(
    tick: Callable[[], None] | None, every: timedelta, *, stop: threading.Event | None = None
) -> None:
    """Call `tick` at once, then every `every` (never two at once) until SIGTERM/SIGINT, then
    return cleanly.

    A signal never interrupts a tick: the tick in flight finishes (`run --limit` and the
    channels' timeouts bound it) and no other starts. The first tick runs here, in the calling
    thread, so its exceptions reach the caller; the scheduler is started only after it, and only
    if no signal came meanwhile (a SIGTERM during the first tick used to stop a scheduler that
    had not started yet, and print a traceback). Later ticks run on the scheduler's thread.
    `tick` None (`serve --no-tick`): no scheduler; wait for the signal alone.
    """
    stop = stop or threading.Event()
    scheduler = BackgroundScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
    )
    with stopping_on_signals(stop):
        _serve(tick, every, stop, scheduler)


def _serve(
    tick: Callable[[], None] | None,
    every: timedelta,
    stop: threading.Event,
    scheduler: BackgroundScheduler,
) -> None:
    try:
        if tick is None:
            while not stop.wait(timeout=1.0):
                pass
            return
        tick()  # at once, then on the interval
        if stop.is_set():
            return
        scheduler.add_job(tick, IntervalTrigger(seconds=every.total_seconds()), id="tick")
        scheduler.start()
        while not stop.wait(timeout=1.0):  # a timed wait: signal handlers run between waits
            pass
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=True)  # waits for the tick in flight, starts no other


@contextlib.contextmanager
def stopping_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """SIGTERM and SIGINT set `stop` (instead of killing the process) while inside; the
    previous handlers come back after. `serve --http` takes the signals before it starts the
    listener, so a SIGTERM at any moment stops it cleanly."""

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
