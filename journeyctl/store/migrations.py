"""Versioned schema migrations for the SQLite store, keyed on `PRAGMA user_version`.

Each migration runs inside one `BEGIN IMMEDIATE` transaction together with the version bump,
so two cron runs opening a fresh database at once cannot both apply it, and a crash mid-way
leaves the previous version intact (SQLite DDL is transactional). Append new steps; never
edit a released one.
"""

from __future__ import annotations

import sqlite3

from journeyctl import faults
from journeyctl.errors import StoreError

# Times are integer UTC epoch microseconds (journeyctl.store.serialize).
_V1 = """
CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    email TEXT,
    phone TEXT,
    name TEXT,
    timezone TEXT,
    attrs TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE contact_state (
    contact_id TEXT PRIMARY KEY REFERENCES contacts(id),
    cursor INTEGER NOT NULL,
    next_due INTEGER,
    triggers TEXT NOT NULL DEFAULT '{}',
    suppressed TEXT NOT NULL DEFAULT '{}'
);
-- Most contacts sleep (next_due NULL); the tick asks only about the ones that will wake.
CREATE INDEX contact_state_due ON contact_state(next_due, contact_id)
    WHERE next_due IS NOT NULL;

CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    contact_id TEXT NOT NULL,
    event TEXT NOT NULL,
    at INTEGER NOT NULL,
    props TEXT NOT NULL DEFAULT '[]',
    enrolls INTEGER NOT NULL DEFAULT 1,
    processed INTEGER NOT NULL DEFAULT 0
);
-- SPEC §3: the natural key; re-importing the same event is a no-op. Also serves per-contact loads.
CREATE UNIQUE INDEX events_natural_key ON events(contact_id, event, at, props);

CREATE TABLE enrollments (
    id TEXT PRIMARY KEY,
    contact_id TEXT NOT NULL,
    sequence TEXT NOT NULL,
    version TEXT NOT NULL,
    entered_at INTEGER NOT NULL,
    position TEXT,
    due_at INTEGER,
    outcome TEXT NOT NULL,
    ended_at INTEGER,
    reason TEXT,
    variant TEXT,
    waiting_since INTEGER,
    deferred_from INTEGER,
    deferred_by TEXT,
    seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX enrollments_contact ON enrollments(contact_id, seq);
CREATE INDEX enrollments_active ON enrollments(sequence, position) WHERE outcome = 'active';

-- The delivery ledger. planned -> attempting -> sent | retry (-> attempting) | failed; skipped.
-- next_attempt_at: planned = decision time, retry = backoff end, attempting = claim time.
CREATE TABLE ledger (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    contact_id TEXT NOT NULL,
    sequence TEXT NOT NULL,
    step TEXT NOT NULL,
    channel TEXT NOT NULL,
    at INTEGER NOT NULL,
    status TEXT NOT NULL,
    enrollment_id TEXT NOT NULL,
    is_marketing INTEGER NOT NULL,
    reason TEXT,
    deferred_from INTEGER,
    deferred_by TEXT,
    variant TEXT,
    subject TEXT,
    text TEXT,
    html TEXT,
    to_addr TEXT,
    unsubscribe_url TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    delivered_at INTEGER,
    provider_id TEXT,
    error TEXT
);
CREATE INDEX ledger_contact ON ledger(contact_id, id);
-- Claims look only at claimable rows, so their cost stays flat as the ledger grows.
CREATE INDEX ledger_claimable ON ledger(next_attempt_at, id) WHERE state IN ('planned', 'retry');
CREATE INDEX ledger_attempting ON ledger(next_attempt_at) WHERE state = 'attempting';
CREATE INDEX ledger_failed ON ledger(id) WHERE state = 'failed';

CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    started_at INTEGER NOT NULL,
    now INTEGER NOT NULL,
    finished_at INTEGER,
    dry_run INTEGER NOT NULL DEFAULT 0,
    contacts INTEGER,
    decided INTEGER,
    skipped INTEGER,
    delivered INTEGER,
    retrying INTEGER,
    failed INTEGER,
    recovered INTEGER,
    exit_code INTEGER,
    error TEXT
);

CREATE TABLE meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# Enrollments held at a step that failed for the contact's data (Enrollment.held); the index
# finds them when the project changes (SqliteStore.wake_held), so a fix is retried at once.
_V2 = """
ALTER TABLE enrollments ADD COLUMN held TEXT;
CREATE INDEX enrollments_held ON enrollments(contact_id) WHERE held IS NOT NULL;
"""

# Who claimed an `attempting` delivery (runs.id; NULL: a tick outside a recorded run), and
# each run's process and the run lock it held (real path, `st_dev:st_ino`): recovery re-sends
# only what a dead run left behind, never a live run's claims (SqliteStore.stale_attempts).
_V3 = """
ALTER TABLE ledger ADD COLUMN claimed_by INTEGER;
ALTER TABLE runs ADD COLUMN pid INTEGER;
ALTER TABLE runs ADD COLUMN host TEXT;
ALTER TABLE runs ADD COLUMN lock_path TEXT;
ALTER TABLE runs ADD COLUMN lock_id TEXT;
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3)
LATEST = len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in code.split(";") if s.strip()]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to LATEST; returns the version found. Refuses a newer database
    (StoreError)."""
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found == LATEST:
        return int(found)
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # re-read under the lock
        if version > LATEST:
            # An environment error, not a bug (exit 1): nothing is touched, the file is not
            # ours to downgrade.
            raise StoreError(
                f"the database is at schema version {version}, written by a newer journeyctl "
                f"(this one knows up to {LATEST}); nothing was changed: upgrade journeyctl, or "
                "use the version that wrote it"
            )
        for n in range(version, LATEST):
            for stmt in _statements(MIGRATIONS[n]):
                conn.execute(stmt)
        conn.execute(f"PRAGMA user_version = {LATEST}")
        faults.point("migration")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back already (a full disk, I/O)
            conn.execute("ROLLBACK")
        raise
    return int(found)
