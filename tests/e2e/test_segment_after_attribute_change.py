"""A contact whose attributes change between ticks is checked from then on, not retroactively.

Segment checks that cannot change anything may be skipped (engine.horizon), but only while a
contact's facts stay the same. `run` learns of attribute changes at import time, without a
timestamp, so it must not replay skipped checks with the new attributes: an enrolment dated
days back would be skipped as `late`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from journeyctl.engine.model import Contact
from journeyctl.run.once import run_once
from journeyctl.spec.loader import load_project
from tests.builders import build_tree

START = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)  # 12:00 in Seoul, after the 09:00 check


def test_changed_attributes_enroll_at_the_next_check_not_in_the_past(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        {
            "journey.yaml": """
                timezone: Asia/Seoul
                unsubscribe_secret: test-only-unsubscribe-secret  # `run` refuses to start without one
                channels:
                  email: {type: file, path: outbox/, medium: email}
                """,
            "win-back.yaml": """
                sequence: win-back
                trigger:
                  segment: "days_since(contact.last_active_at) >= 30"
                  check: "0 9 * * *"
                ad: false
                steps:
                  - send: miss-you
                    channel: email
                    subject: "We miss you"
                    body: "come back"
                """,
        },
    )
    project = load_project(tmp_path)
    db = tmp_path / "j.db"
    active = Contact("c1", "c1@example.com", attrs={"last_active_at": START - timedelta(days=5)})

    def tick(day: int, contacts: list[Contact]) -> None:
        now = START + timedelta(days=day)
        result = run_once(project, db, now=now, clock=lambda: now, contacts=contacts)
        assert result.report is not None and result.report.ok

    tick(0, [active])
    for day in range(1, 10):
        tick(day, [])
    # Day 10: the CRM export now says the contact was last active 40 days ago.
    tick(10, [replace(active, attrs={"last_active_at": START - timedelta(days=40)})])
    tick(11, [])

    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT state, at, error FROM ledger").fetchall()
    finally:
        conn.close()
    assert len(rows) == 1, rows
    state, at_us, _ = rows[0]
    assert state == "sent"  # not skipped as late
    at = datetime.fromtimestamp(at_us / 1e6, UTC)
    # Entered at the first check the engine had not run yet when the change was imported: the
    # day-10 check at 09:00 Seoul (00:00 UTC), decided by that day's 12:00 tick; no earlier one.
    assert at == datetime(2026, 11, 12, 0, 0, tzinfo=UTC), at
