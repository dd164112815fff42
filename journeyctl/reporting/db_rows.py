"""Rows for `report` read from the store's tables (schema: journeyctl.store.migrations; the
same on PostgreSQL).

Read-only SQL over a connection; the numbers are computed by `reporting.report`, which never
sees the database.
"""

from __future__ import annotations

from journeyctl.reporting.report import EnrollmentRow, EventRow, MessageRow
from journeyctl.store.base import Queries
from journeyctl.store.serialize import from_micros, opt_datetime, props_from_json

_RESPONSES = ("opened", "clicked", "unsubscribed", "bounced")


def read_rows(
    conn: Queries,
) -> tuple[list[MessageRow], list[EventRow], list[EnrollmentRow]]:
    """Every decided message, every response event and every enrollment.

    All history is read (not only `--since`): an open after `since` may belong to a message
    sent before it, and attribution needs the messages before each event.
    """
    messages = [
        MessageRow(
            key=r[0],
            contact_id=r[1],
            sequence=r[2],
            step=r[3],
            enrollment_id=r[4],
            at=from_micros(r[5]),
            state=r[6],
            variant=r[7],
            is_email=r[8] is not None,
        )
        for r in conn.execute(
            "SELECT key, contact_id, sequence, step, enrollment_id, at, state, variant, subject "
            "FROM ledger ORDER BY id"
        )
    ]
    marks = ",".join("?" * len(_RESPONSES))
    events = []
    for cid, name, at, props in conn.execute(
        f"SELECT contact_id, event, at, props FROM events WHERE event IN ({marks}) ORDER BY at, id",
        _RESPONSES,
    ):
        p = dict(props_from_json(props))
        mid, step = p.get("message_id"), p.get("step")
        events.append(
            EventRow(
                cid,
                name,
                from_micros(at),
                None if mid is None else str(mid),
                None if step is None else str(step),
            )
        )
    enrollments = [
        EnrollmentRow(r[0], r[1], r[2], r[3], from_micros(r[4]), opt_datetime(r[5]), r[6])
        for r in conn.execute(
            "SELECT id, contact_id, sequence, outcome, entered_at, ended_at, variant "
            "FROM enrollments ORDER BY entered_at, id"
        )
    ]
    return messages, events, enrollments
