"""`serve`: APScheduler 3.x decides *when* to call the tick; the engine decides what is due.

No journey state lives in APScheduler (no job store): segment and date checks run on their
cron schedules inside the engine, so `serve`, `run` and `simulate` share cron semantics.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from datetime import timedelta
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger


def serve_forever(
    tick: Callable[[], None], every: timedelta, *, stop: threading.Event | None = None
) -> None:
    """Call `tick` every `every` (never two at once) until SIGTERM/SIGINT, then return cleanly.

    The tick in flight is allowed to finish (`shutdown(wait=True)`); `run --limit` bounds it.
    """
    scheduler = BlockingScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
    )
    scheduler.add_job(
        tick, IntervalTrigger(seconds=every.total_seconds()), id="tick", next_run_time=None
    )
    stop = stop or threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}

    def _watch() -> None:
        stop.wait()
        scheduler.shutdown(wait=True)

    watcher = threading.Thread(target=_watch, name="journeyctl-stop", daemon=True)
    watcher.start()
    try:
        tick()  # at once, then on the interval
        if not stop.is_set():
            scheduler.start()
    finally:
        stop.set()
        watcher.join(timeout=60)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
