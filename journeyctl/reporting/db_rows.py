"""Rows for `report` read from the store's tables (schema: journeyctl.store.migrations; the
same on PostgreSQL), a few contacts at a time.

Read-only SQL over a connection; the numbers are computed by `reporting.report`, which never
sees the database. The ledger, the response events and the enrollments are read in windows
of contacts (`windows`): every row of a contact in the same window, about BATCH_ROWS rows of
each table per window, so what is held follows the window, not the database.

Everything `report` counts stays within one contact (an event's latest message before it,
a goal's enrollment and its messages), except two references a database may hold across
contacts: an event whose `message_id` names another contact's message, and a message whose
enrollment is another contact's. The windows are counted as if each contact were alone; such
references are looked up as each window is read, and the contacts they join are then counted
again together, as one whole, in place of their counts alone (`report_counts`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from journeyctl.reporting.report import (
    _SENT_STATES,
    Counts,
    EnrollmentRow,
    EventRow,
    MessageRow,
    attribute,
)
from journeyctl.store.base import Queries
from journeyctl.store.serialize import from_micros, opt_datetime, props_from_json

_RESPONSES = ("opened", "clicked", "unsubscribed", "bounced")
_IN_RESPONSES = f"event IN ({','.join('?' * len(_RESPONSES))})"
# Rows of each table a window holds (more when its last contact has more); the size of the
# IN lists looking up references that leave a window.
BATCH_ROWS = 5000
_LOOKUP = 500

Rows = tuple[list[MessageRow], list[EventRow], list[EnrollmentRow]]

_LEDGER = (
    "SELECT id, key, contact_id, sequence, step, enrollment_id, at, state, variant, "
    "subject IS NOT NULL FROM ledger"
)
_EVENTS = "SELECT contact_id, event, at, props FROM events"
_ENROLLMENTS = (
    "SELECT id, contact_id, sequence, outcome, entered_at, ended_at, variant FROM enrollments"
)


def report_counts(
    conn: Queries, since: datetime | None, day_of: Callable[[datetime], str] | None = None
) -> Counts:
    """The report's numbers over the whole store, read window by window (`windows`)."""
    counts = Counts(since, day_of)
    joined: set[str] = set()
    for messages, events, enrollments in windows(conn):
        counts.add(messages, events, enrollments)
        joined |= crossings(conn, messages, events, enrollments, since)
    if joined:
        # Contacts whose references cross: counted alone above, counted together here.
        messages, events, enrollments = rows_of(conn, sorted(joined))
        counts.attribution.add(
            attribute(messages, events, enrollments, since, per_contact=True), -1
        )
        counts.attribution.add(attribute(messages, events, enrollments, since))
    return counts


def windows(conn: Queries, size: int | None = None) -> Iterator[Rows]:
    """The rows of every contact, a window of contacts at a time: (lo, hi] in the database's
    own order of contact ids (its comparison does all the comparing, so SQLite's and
    PostgreSQL's collations both hold), hi the first contact id reached `size` rows after lo
    in any of the three tables."""
    n = size or BATCH_ROWS
    lo: str | None = None
    while True:
        hi = _bound(conn, lo, n)
        where, params = _range(lo, hi)
        yield _read(conn, where, params)
        if hi is None:
            return
        lo = hi


def _range(lo: str | None, hi: str | None) -> tuple[str, list[Any]]:
    conds, params = [], []
    if lo is not None:
        conds.append("contact_id > ?")
        params.append(lo)
    if hi is not None:
        conds.append("contact_id <= ?")
        params.append(hi)
    return " AND ".join(conds) or "1 = 1", params


def _bound(conn: Queries, lo: str | None, n: int) -> str | None:
    after, params = _range(lo, None)
    parts, args = [], []
    for table, extra in (("ledger", ""), ("events", f" AND {_IN_RESPONSES}"), ("enrollments", "")):
        parts.append(
            f"SELECT (SELECT contact_id FROM {table} WHERE {after}{extra} "
            "ORDER BY contact_id LIMIT 1 OFFSET ?) AS c"
        )
        args += [*params, *(_RESPONSES if extra else ()), n - 1]
    row = conn.execute(f"SELECT min(c) FROM ({' UNION ALL '.join(parts)}) AS t", args).fetchone()
    return None if row is None else row[0]


def _read(conn: Queries, where: str, params: Sequence[Any]) -> Rows:
    messages = [
        MessageRow(
            key=r[1],
            contact_id=r[2],
            sequence=r[3],
            step=r[4],
            enrollment_id=r[5],
            at=from_micros(r[6]),
            state=r[7],
            variant=r[8],
            is_email=bool(r[9]),
            id=r[0],
        )
        for r in conn.execute(f"{_LEDGER} WHERE {where}", params)
    ]
    events = []
    for cid, name, at, props in conn.execute(
        f"{_EVENTS} WHERE {_IN_RESPONSES} AND {where}", [*_RESPONSES, *params]
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
        for r in conn.execute(f"{_ENROLLMENTS} WHERE {where}", params)
    ]
    return messages, events, enrollments


def crossings(
    conn: Queries,
    messages: Iterable[MessageRow],
    events: Iterable[EventRow],
    enrollments: Iterable[EnrollmentRow],
    since: datetime | None,
) -> set[str]:
    """The contacts of these rows whose references reach another contact, and those they
    reach: an event naming a message (decided to send) of another contact, a message counted
    from `since` naming an enrollment of another contact. A reference to nothing (a message
    or enrollment pruned, or never written) counts alike alone or together: not returned."""
    own_sent = {m.key: m.contact_id for m in messages if m.state in _SENT_STATES}
    own_enrollment = {e.id: e.contact_id for e in enrollments}
    keys: dict[str, set[str]] = defaultdict(set)  # message key -> contacts naming it
    for ev in events:
        if ev.message_id is not None and own_sent.get(ev.message_id) != ev.contact_id:
            keys[ev.message_id].add(ev.contact_id)
    ids: dict[str, set[str]] = defaultdict(set)  # enrollment id -> contacts naming it
    for m in messages:
        counted = m.state in _SENT_STATES and (since is None or m.at >= since)
        if counted and own_enrollment.get(m.enrollment_id) != m.contact_id:
            ids[m.enrollment_id].add(m.contact_id)
    joined: set[str] = set()
    states = ",".join("?" * len(_SENT_STATES))
    for table, col, named, extra, extra_params in (
        ("ledger", "key", keys, f" AND state IN ({states})", _SENT_STATES),
        ("enrollments", "id", ids, "", ()),
    ):
        wanted = list(named)
        for i in range(0, len(wanted), _LOOKUP):
            part = wanted[i : i + _LOOKUP]
            marks = ",".join("?" * len(part))
            for ref, owner in conn.execute(
                f"SELECT {col}, contact_id FROM {table} WHERE {col} IN ({marks}){extra}",
                [*part, *extra_params],
            ):
                others = named[ref] - {owner}
                if others:
                    joined |= others | {owner}
    return joined


def rows_of(conn: Queries, contacts: Sequence[str]) -> Rows:
    """Every row of these contacts."""
    messages: list[MessageRow] = []
    events: list[EventRow] = []
    enrollments: list[EnrollmentRow] = []
    for i in range(0, len(contacts), _LOOKUP):
        part = contacts[i : i + _LOOKUP]
        m, ev, e = _read(conn, f"contact_id IN ({','.join('?' * len(part))})", part)
        messages += m
        events += ev
        enrollments += e
    return messages, events, enrollments
