"""One `run`: open the database, take the run lock, import, tick, record the run.

`serve` calls the same function on its schedule. The CLI only parses and renders around it;
the idle cron minute is answered before any of this is imported (run.idle).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from journeyctl.engine.advance import Engine
from journeyctl.engine.model import Contact, Event
from journeyctl.errors import ExitCode
from journeyctl.run.imports import ImportCounts, InputReport, held_back_summary, import_files
from journeyctl.run.tick import TickReport, tick
from journeyctl.spec.project import Project
from journeyctl.store.lock import LockHeld
from journeyctl.store.open import open_store

if TYPE_CHECKING:
    from journeyctl.store.open import OpenStore


@dataclass
class RunResult:
    now: datetime
    dry_run: bool
    locked: bool = False  # another run held the lock; nothing was done
    imported: ImportCounts = field(default_factory=ImportCounts)
    report: TickReport | None = None
    # The input files: rows rejected (skip_invalid), files held back (docs/run.md, "Bad rows").
    inputs: list[InputReport] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        if self.report is not None and not self.report.ok:
            return ExitCode.PROBLEMS
        if any(r.held_back for r in self.inputs):
            return ExitCode.PROBLEMS
        return ExitCode.OK


def run_once(
    project: Project,
    db: str | Path,
    *,
    now: datetime,
    clock: Callable[[], datetime],
    contacts: Sequence[Contact] = (),
    events: Sequence[Event] = (),
    events_source: Path | None = None,
    dry_run: bool = False,
    limit: int | None = None,
    env: Mapping[str, str] | None = None,
    engine: Engine | None = None,
    skip_invalid: bool = False,
    inputs: Sequence[InputReport] | None = None,
    record_idle: bool = False,
) -> RunResult:
    """One tick against the database at `db`, a SQLite file or a PostgreSQL URL (created
    and migrated if needed).

    `engine`: reuse one across ticks (serve, tests); by default a rendering engine is built.
    `skip_invalid`: events of contacts the database does not know are skipped and counted.
    `inputs`: what became of the files read (the CLI's); with it, events of unknown contacts
    hold back the events file alone (exit 1) instead of failing the run. A file held back
    before the run (bad rows) is in `inputs` too: the tick runs all the same, and exits 1.
    `record_idle`: record the project's fingerprint (its manifest's: the files hashed before
    they were loaded) for the next idle minute, if they still hash the same (`run` does when
    its idle attempt hashed them).
    """
    if engine is None:
        import os

        from journeyctl.engine.make import make_engine

        # Unsubscribe tokens are signed with the secret from the environment: an unset
        # ${VAR} stops the run here, before anything is claimed (UnsetVariableError, exit 2),
        # and so does a missing or empty secret when links would go out (not with --dry-run,
        # which delivers nothing: docs/run.md).
        engine = make_engine(
            project, env=os.environ if env is None else env, delivering=not dry_run
        )
    started_at = clock()
    result = RunResult(now=now, dry_run=dry_run, inputs=list(inputs or ()))
    # SQLite: the full integrity check is skipped while the file is as the last run left it
    # (it reads the whole file: store/sqlite/connection.py, _connect).
    store = open_store(db, stamped=True)
    try:
        if dry_run:
            # Nothing written: the whole tick happens in one transaction that is rolled back,
            # delivering to recorders instead of the real channels.
            from journeyctl.channels.recording import RecordingChannel

            with store.rollback_only():
                start_sequences(engine, store, now)
                result.imported = _import(
                    project, store, contacts, events, events_source, now, skip_invalid, inputs
                )
                result.report = tick(
                    engine, store, RecordingChannel.everywhere(), now, limit=limit,
                    keep_messages=True,
                )  # fmt: skip
            return result
        try:
            # SQLite: the file lock, one run at a time (LockHeld); PostgreSQL: none, each
            # run's session tells the others it is alive (store/postgres/runs.py).
            with store.run_lock() as held:
                run_id = store.begin_run(started_at, now, lock=held)
                try:
                    store.set_meta("timezone", project.settings.timezone)
                    # `status` reads the db alone: it says what the last run found paused.
                    store.set_meta("paused", paused_meta(project))
                    start_sequences(engine, store, now)
                    result.imported = _import(
                        project, store, contacts, events, events_source, now, skip_invalid,
                        inputs,
                    )  # fmt: skip
                    result.report = _tick(
                        project, engine, store, now, limit, env, exclusive=held is not None
                    )
                except BaseException as exc:
                    store.finish_run(run_id, clock(), {}, ExitCode.INTERNAL, repr(exc))
                    raise
                store.finish_run(
                    run_id, clock(), result.report.counts() if result.report else {},
                    int(result.exit_code), held_back_summary(result.inputs),
                )  # fmt: skip
                if record_idle:
                    _record_fingerprint(store, project)
        except LockHeld:
            result.locked = True
        return result
    finally:
        store.close()


def start_sequences(engine: Engine, store: OpenStore, now: datetime) -> None:
    """`existing: skip` segment sequences start at the first tick that sees them: recorded
    in the meta table, so later ticks (and other workers) count from the same moment. That
    tick wakes every contact: one whose nothing is due would not be checked otherwise."""
    from journeyctl.store.serialize import from_micros, to_micros

    for sid in engine.skip_existing():
        key = f"started:{sid}"
        stored = store.get_meta(key)
        if stored is None:
            store.set_meta(key, str(to_micros(now)))
            started = now
            # Each contact's first check of it then sees whether it matches already; the
            # checks it catches up on up to `now` only record that (Instant._check_segment).
            store.wake_all()
        else:
            started = from_micros(int(stored))
        engine.start_sequence(sid, started)


def paused_meta(project: Project) -> str:
    """The paused sequences' ids, comma-separated (`status` reads them from the meta table)."""
    return ",".join(sid for sid, seq in sorted(project.sequences.items()) if seq.model.paused)


def _record_fingerprint(store: OpenStore, project: Project) -> None:
    """Let the next idle cron minute skip loading this project (run.idle): stored only when
    the manifest's fingerprint is the files' hash and they still hash the same now."""
    from journeyctl.spec.fingerprint import META_KEY, meta_value, unchanged_fingerprint
    from journeyctl.store.migrations import LATEST

    fingerprint = unchanged_fingerprint(project.root, project.manifest.fingerprint)
    if fingerprint is not None:
        store.set_meta(META_KEY, meta_value(fingerprint, LATEST, project.settings.timezone))


def _import(
    project: Project,
    store: OpenStore,
    contacts: Sequence[Contact],
    events: Sequence[Event],
    events_source: Path | None,
    now: datetime,
    skip_invalid: bool = False,
    inputs: Sequence[InputReport] | None = None,
) -> ImportCounts:
    """Contacts and events in one transaction (imports.import_files)."""
    return import_files(
        store, contacts, events, now, project.settings.events.max_age.approx(),
        events_source=events_source, skip_invalid=skip_invalid, inputs=inputs,
    )  # fmt: skip


def _tick(
    project: Project,
    engine: Engine,
    store: OpenStore,
    now: datetime,
    limit: int | None,
    env: Mapping[str, str] | None,
    *,
    exclusive: bool,
) -> TickReport:
    import os

    from journeyctl.channels.registry import build_channels

    channels = build_channels(
        project.settings, os.environ if env is None else env, base_dir=project.root
    )
    with channels:
        # `exclusive` (the SQLite run lock held): a delivery still `attempting` was orphaned
        # unless the run that claimed it is alive (one that reached this database through
        # another lock file). Without it, the store tells dead runs' claims from live ones.
        return tick(engine, store, channels, now, limit=limit, exclusive=exclusive)
